"""Saga throughput: `simulate` N orders vs raw sqlite3 (and raw psycopg) writing the same event and
row volume, one transaction per event. The ratio engine/raw is the headline (target: >= 0.5).

    python benchmarks/bench_saga_throughput.py [--orders 500] [--pg-url URL] [--json]

The engine side is the real thing: `deliverycli.engine.simulation.simulate` on a fresh database, the
same code `deliverycli simulate --orders N` runs. The raw side (see _raw.py) replays that run's own
event stream into a second fresh database (same schema, created by the same migrations) and writes
per event what the engine wrote for it. A separate, smaller instrumented engine run counts the
engine's statements per lifecycle, printed next to the raw writer's counts so the two volumes can be
compared; the final row counts of both databases are compared table by table.

With DELIVERYCLI_TEST_POSTGRES_URL (or --pg-url) set, the same is measured on PostgreSQL, on fresh
schemas created and dropped by the benchmark, against raw psycopg.
"""

from __future__ import annotations

import os
import re
import sqlite3
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402
import _raw  # noqa: E402

TARGET_RATIO = 0.5
STATEMENT = re.compile(r"\s*(INSERT INTO|UPDATE|DELETE FROM)\s+\"?(\w+)", re.IGNORECASE)


# -- the engine ---------------------------------------------------------------------------------


def run_engine(db: str, orders: int, seed: int) -> dict[str, Any]:
    from deliverycli.engine.simulation import SimulationOptions, simulate

    m.init_db(db)
    started = time.perf_counter()
    summary = simulate(m.settings_for(db), SimulationOptions(orders=orders, seed=seed))
    outer = time.perf_counter() - started
    if summary["unfinished"] or summary["orders"] != orders:
        raise SystemExit(f"the simulation did not finish every order: {summary}")
    return {
        "orders": summary["orders"],
        "events": summary["events"],
        "notifications": summary["notifications"],
        "orders_by_status": summary["orders_by_status"],
        "wall_s": summary["wall_time_s"],
        "wall_with_open_s": round(outer, 3),
        "lifecycles_per_s": round(summary["orders"] / summary["wall_time_s"], 1),
        "events_per_s": round(summary["events"] / summary["wall_time_s"], 1),
    }


def calibrate(db: str, orders: int, seed: int) -> dict[str, Any]:
    """An instrumented (untimed) engine run: statements and transactions per lifecycle."""
    import sqlalchemy as sa
    from deliverycli.engine.simulation import SimulationOptions, simulate

    m.init_db(db)
    counts: Counter[str] = Counter()

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        head = statement.lstrip()[:40].upper()
        if head.startswith("SELECT") or head.startswith("WITH"):
            counts["SELECT statements"] += 1
            return
        match = STATEMENT.match(statement)
        if match:
            op = {"INSERT INTO": "insert", "UPDATE": "update", "DELETE FROM": "delete"}[" ".join(match.group(1).upper().split())]
            rows = len(params) if executemany and isinstance(params, (list, tuple)) else 1
            counts[f"{op} {match.group(2).lower()}"] += rows

    def begin(conn: Any) -> None:  # every transaction, whether or not a BEGIN statement is sent
        readonly = conn.get_execution_options().get("readonly", False)
        counts["read transactions" if readonly else "write transactions"] += 1

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", before)
    sa.event.listen(sa.engine.Engine, "begin", begin)
    try:
        summary = simulate(m.settings_for(db), SimulationOptions(orders=orders, seed=seed))
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", before)
        sa.event.remove(sa.engine.Engine, "begin", begin)
    n = summary["orders"]
    return {"orders": n, "per_lifecycle": {k: round(v / n, 2) for k, v in sorted(counts.items())}}


# -- the raw baseline ---------------------------------------------------------------------------


def tracking_every(calibration: dict[str, Any] | None, events_per_lifecycle: float) -> int:
    per = (calibration or {}).get("per_lifecycle", {}).get("update tracking", 0.25)
    return max(1, round(events_per_lifecycle / per)) if per else 0


def run_raw_sqlite(folder: Path, engine_db: str, stream: list[Any], orders: int, every: int, repeats: int, events_only: bool = False) -> dict[str, Any]:
    runs = []
    for i in range(repeats):
        name = f"raw{'-events' if events_only else ''}-{i}"
        main, gw = str(folder / f"{name}.db"), str(folder / f"{name}-gateway.db")
        m.init_db(main)
        Path(str(Path(main).with_name(Path(main).stem + "-gateway.db"))).unlink(missing_ok=True)  # the engine's, unused
        conn, gw_conn = _raw.prepare_raw_sqlite(main, gw, str(Path(engine_db).with_name(Path(engine_db).stem + "-gateway.db")))
        writer = _raw.RawWriter(conn, gw_conn, "sqlite", tracking_every=every, events_only=events_only)
        started = time.perf_counter()
        _raw.replay(writer, stream)
        wall = time.perf_counter() - started
        runs.append((wall, writer, main))
        conn.close()
        gw_conn.close()
    wall, writer, main = sorted(runs, key=lambda r: r[0])[len(runs) // 2]  # the median run
    with sqlite3.connect(main) as conn:
        tables = _raw.table_counts(conn, _raw.ORDER_TABLES)
    return raw_result(wall, writer, orders, len(stream), [r[0] for r in runs], tables)


def raw_result(wall: float, writer: _raw.RawWriter, orders: int, events: int, walls: list[float], tables: dict[str, int]) -> dict[str, Any]:
    return {
        "orders": orders,
        "events": events,
        "wall_s": round(wall, 3),
        "walls_s": [round(w, 3) for w in walls],
        "lifecycles_per_s": round(orders / wall, 1),
        "events_per_s": round(events / wall, 1),
        "transactions": writer.transactions,
        "per_lifecycle": {f"{op} {table}": round(n / orders, 2) for (op, table), n in sorted(writer.counts.items())}
        | {"transactions": round(writer.transactions / orders, 2)},
        "table_rows": tables,
    }


def run_sqlite(folder: Path, args: Any) -> dict[str, Any]:
    """``--rounds`` rounds of (engine run, raw runs of its event stream), each on fresh files."""
    calibration = calibrate(str(folder / "calibration.db"), args.calibrate_orders, args.seed) if args.calibrate_orders else None
    rounds = []
    for r in range(max(1, args.rounds)):
        round_dir = folder / f"round-{r}"
        round_dir.mkdir(exist_ok=True)
        engine_db = str(round_dir / "engine.db")
        engine = run_engine(engine_db, args.orders, args.seed)
        with sqlite3.connect(engine_db) as src:
            stream = _raw.engine_event_stream(src)
            engine["table_rows"] = _raw.table_counts(src, _raw.ORDER_TABLES)
        every = tracking_every(calibration, engine["events"] / engine["orders"])
        raw = run_raw_sqlite(round_dir, engine_db, stream, engine["orders"], every, max(1, args.raw_repeats))
        light = run_raw_sqlite(round_dir, engine_db, stream, engine["orders"], every, max(1, args.raw_repeats), events_only=True)
        rounds.append((engine, raw, light))
    med = lambda values: round(statistics.median(values), 1)  # noqa: E731
    per_round = [
        {"engine": e["lifecycles_per_s"], "raw": w["lifecycles_per_s"], "raw_events_only": l["lifecycles_per_s"], "ratio": round(e["lifecycles_per_s"] / w["lifecycles_per_s"], 3)}
        for e, w, l in rounds
    ]
    engine, raw, light = rounds[-1]
    for part, i in ((engine, 0), (raw, 1), (light, 2)):
        part["lifecycles_per_s"] = med([rd[i]["lifecycles_per_s"] for rd in rounds])
        part["events_per_s"] = med([rd[i]["events_per_s"] for rd in rounds])
        part["wall_s"] = round(statistics.median([rd[i]["wall_s"] for rd in rounds]), 3)
    return {
        "engine": engine, "raw": raw, "raw_events_only": light, "calibration": calibration,
        "ratio": round(engine["lifecycles_per_s"] / raw["lifecycles_per_s"], 4),
        "ratio_vs_events_only": round(engine["lifecycles_per_s"] / light["lifecycles_per_s"], 4),
        "rounds": per_round if len(rounds) > 1 else None,
    }


# -- PostgreSQL ---------------------------------------------------------------------------------


def run_postgres(url: str, orders: int, seed: int, calibrate_orders: int, fallback_calibration: dict[str, Any] | None) -> dict[str, Any]:
    import psycopg

    tag = uuid.uuid4().hex[:8]
    schemas = {"engine": f"bench_engine_{tag}", "raw": f"bench_raw_{tag}", "calib": f"bench_calib_{tag}"}
    admin = psycopg.connect(m.libpq_url(url), autocommit=True)
    try:
        for schema in schemas.values():
            admin.execute(f'CREATE SCHEMA "{schema}"')
        engine_url = m.with_search_path(url, schemas["engine"])
        engine = run_engine(engine_url, orders, seed)
        calibration = calibrate(m.with_search_path(url, schemas["calib"]), calibrate_orders, seed) if calibrate_orders else None
        every = tracking_every(calibration or fallback_calibration, engine["events"] / engine["orders"])
        raw_url = m.with_search_path(url, schemas["raw"])
        m.init_db(raw_url)
        with psycopg.connect(m.libpq_url(engine_url)) as src:
            stream = _raw.engine_event_stream(src)
            engine["table_rows"] = _raw.table_counts(src, _raw.ORDER_TABLES)
        conn = psycopg.connect(m.libpq_url(raw_url))
        conn.execute(f'CREATE TABLE gateway_ledger (LIKE "{schemas["engine"]}".gateway_ledger INCLUDING ALL)')
        for s in _raw.SUBSCRIBERS:
            conn.execute("INSERT INTO tracking (subscriber, position, updated_at) VALUES (%s, 0, now()) ON CONFLICT DO NOTHING", (s,))
        conn.commit()
        writer = _raw.RawWriter(conn, conn, "postgresql", tracking_every=every)
        started = time.perf_counter()
        _raw.replay(writer, stream)
        wall = time.perf_counter() - started
        tables = _raw.table_counts(conn, _raw.ORDER_TABLES)
        raw = raw_result(wall, writer, orders, len(stream), [wall], tables)
        conn.execute("TRUNCATE events")
        conn.commit()
        light = _raw.RawWriter(conn, conn, "postgresql", events_only=True)
        started = time.perf_counter()
        _raw.replay(light, stream)
        wall = time.perf_counter() - started
        conn.close()
        events_only = raw_result(wall, light, orders, len(stream), [wall], {})
        return {
            "engine": engine, "raw": raw, "raw_events_only": events_only, "calibration": calibration,
            "ratio": round(engine["lifecycles_per_s"] / raw["lifecycles_per_s"], 4),
            "ratio_vs_events_only": round(engine["lifecycles_per_s"] / events_only["lifecycles_per_s"], 4),
        }
    finally:
        for schema in schemas.values():
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


# -- output -------------------------------------------------------------------------------------


def print_backend(title: str, result: dict[str, Any], raw_label: str) -> None:
    engine, raw = result["engine"], result["raw"]
    rows = [
        {"what": "deliverycli simulate (engine)", "lc": engine["lifecycles_per_s"], "ev": engine["events_per_s"], "wall": engine["wall_s"]},
        {"what": f"{raw_label}, same rows, 1 txn per event", "lc": raw["lifecycles_per_s"], "ev": raw["events_per_s"], "wall": raw["wall_s"]},
    ]
    light = result.get("raw_events_only")
    if light:
        rows.append({"what": f"{raw_label}, event rows only, 1 txn per event", "lc": light["lifecycles_per_s"], "ev": light["events_per_s"], "wall": light["wall_s"]})
    m.print_table(rows, [("what", "run"), ("lc", "lifecycles/s"), ("ev", "events/s"), ("wall", "wall s")], title=title)
    verdict = "met" if result["ratio"] >= TARGET_RATIO else "NOT met"
    print(f"ratio engine/raw (same rows): {result['ratio']:.3f}  (target >= {TARGET_RATIO}: {verdict})")
    if light:
        print(f"ratio engine/raw (event rows only, for reference): {result['ratio_vs_events_only']:.3f}")
    if result.get("rounds"):
        per = "; ".join(f"engine {r['engine']:.1f} / raw {r['raw']:.1f} = {r['ratio']:.3f}" for r in result["rounds"])
        print(f"{len(result['rounds'])} rounds, medians above; per round (lifecycles/s): {per}")
    print(f"orders by final status: {engine['orders_by_status']}; events {engine['events']:,} ({engine['events'] / engine['orders']:.2f} per lifecycle)")

    calibration = result.get("calibration")
    keys = sorted(set(raw["per_lifecycle"]) | set((calibration or {}).get("per_lifecycle", {})))
    table = [{"what": k, "engine": (calibration or {}).get("per_lifecycle", {}).get(k), "raw": raw["per_lifecycle"].get(k)} for k in keys]
    label = f"engine (instrumented run of {calibration['orders']} orders)" if calibration else "engine"
    m.print_table(table, [("what", "per lifecycle"), ("engine", label), ("raw", "raw")], title="Write volume per lifecycle")
    rows = [{"table": t, "engine": engine["table_rows"].get(t), "raw": raw["table_rows"].get(t)} for t in _raw.ORDER_TABLES]
    m.print_table(rows, [("table", "table"), ("engine", "engine rows"), ("raw", "raw rows")], title="Rows at the end of the run")


def main() -> None:
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500, help="lifecycles to simulate (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calibrate-orders", type=int, default=100, help="orders of the instrumented run that counts the engine's writes (0: skip)")
    parser.add_argument("--raw-repeats", type=int, default=3, help="raw sqlite3 runs per round; the median is reported")
    parser.add_argument("--rounds", type=int, default=1, help="engine + raw rounds on SQLite, each on fresh files; medians are reported (default 1)")
    parser.add_argument("--pg-url", default=os.environ.get(m.PG_ENV), help=f"PostgreSQL URL (default ${m.PG_ENV}); empty: skip PostgreSQL")
    parser.add_argument("--pg-orders", type=int, help="lifecycles on PostgreSQL (default: --orders, at most 200)")
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    parser.add_argument("--profile", action="store_true", help="instead: profile one engine run and print where its time goes")
    args = parser.parse_args()
    pg_orders = args.pg_orders or min(args.orders, 200)

    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info(args.pg_url)
        result: dict[str, Any] = {"benchmark": "saga_throughput", "machine": info, "orders": args.orders, "seed": args.seed}
        if args.profile:
            profile(str(folder / "profile.db"), args.orders, args.seed)
            return
        if not args.no_sqlite:
            result["sqlite"] = run_sqlite(folder, args)
        if args.pg_url:
            result["postgresql"] = run_postgres(
                args.pg_url, pg_orders, args.seed, args.calibrate_orders, result.get("sqlite", {}).get("calibration")
            )

        if args.json:
            m.emit_json(result)
            return
        print("Saga throughput: deliverycli simulate vs raw writes of the same volume, one transaction per event")
        m.print_machine(info)
        if "sqlite" in result:
            print_backend(f"SQLite file (WAL, synchronous=NORMAL), {args.orders} orders, seed {args.seed}", result["sqlite"], "raw sqlite3")
        if "postgresql" in result:
            print_backend(f"\nPostgreSQL {info.get('postgresql_server')}, {pg_orders} orders", result["postgresql"], "raw psycopg")
        elif not args.pg_url:
            print(f"\n(PostgreSQL skipped: set {m.PG_ENV} or --pg-url)")


def profile(db: str, orders: int, seed: int) -> None:
    import cProfile
    import pstats

    from deliverycli.engine.simulation import SimulationOptions, simulate

    m.init_db(db)
    profiler = cProfile.Profile()
    profiler.enable()
    summary = simulate(m.settings_for(db), SimulationOptions(orders=orders, seed=seed))
    profiler.disable()
    print(f"profiled {summary['orders']} lifecycles: {summary['lifecycles_per_s']} lifecycles/s under the profiler")
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
