"""Scale: do `status ORDER` and the first page of `orders list --status X` stay flat as the database
grows to 100k and 1M finished orders? And how many bytes does an order cost?

    python benchmarks/bench_scale.py [--sizes 1000,100000] [--runs 7] [--json]
    python benchmarks/bench_scale.py --sizes 1000,100000,1000000      # the 1M point takes minutes

Generating a million orders through the engine would take hours at today's speed, so each database
is built by replicating a real one: a real `simulate` run of --template-orders orders (default 200)
on a fresh database, whose rows -- every order-scoped table of every context, the event log, and
the simulated gateway's ledger in its sibling file -- are copied K times with new order ids, event
ids and notification ids, payloads and messages rewritten to the new order id, and timestamps
moved back by one template-span per copy (so newer copies have larger ids and later times, as a
growing database does). Reference data (stores, menus, customers, riders) is copied once; the
order counter and every subscriber's position are set to the end, so the engine opens it
caught up. The schema (tables, indexes) is the engine's own: the database is first created by
its migrations. Rows are inserted with the indexes in place, oldest first; no ANALYZE, no VACUUM.

Measured per size: wall time of `deliverycli --db DB status ORDER --json` and of
`deliverycli --db DB orders list --status CONFIRMED --limit 50 --json` (fresh processes, median of
--runs, a different random order each run, warm OS cache), the same two queries in-process
(Engine.status / Engine.orders, p50/p95), Engine.open itself, and file bytes per order.
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402
from deliverycli.engine.counters import backfill_sql  # noqa: E402

# Reference data and bookkeeping: copied once, not per order.
REFERENCE_TABLES = ("stores", "menu_items", "customers", "riders", "simulation_runs", "circuit_breakers")
EVENT_ID_COLUMNS = {("events", "id"), ("order_timeline", "event_id"), ("notifications", "event_id"), ("order_status", "last_event_id"), ("dead_letters", "event_id")}
TEXT_WITH_ORDER_ID = {"payload", "message", "charge_id", "refund_id", "items"}


# -- building -------------------------------------------------------------------------------------


def build_template(folder: Path, orders: int, seed: int) -> tuple[Path, dict[str, Any]]:
    from deliverycli.engine.simulation import SimulationOptions, simulate

    db = folder / "template.db"
    m.init_db(str(db))
    summary = simulate(m.settings_for(str(db)), SimulationOptions(orders=orders, seed=seed))
    if summary["unfinished"] or summary["orders"] != orders:
        raise SystemExit(f"the template simulation did not finish: {summary}")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        ids = [r[0] for r in conn.execute("SELECT id FROM orders")]
    if not all(len(i) == 10 and i.startswith("ord-") and i[4:].isdigit() for i in ids):
        raise SystemExit("the template's order ids are not all ord-NNNNNN; cannot replicate them")
    return db, summary


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    return [(r[1], (r[2] or "").upper()) for r in conn.execute(f'PRAGMA {schema}.table_info("{table}")')]


def _select_list(table: str, columns: list[tuple[str, str]], order_col: str, id_offsets: dict[str, str]) -> str:
    """Expressions that turn one template row into its copy number ``ks.k``."""
    new_number = f"(ks.k * :per_copy + CAST(substr(x.{order_col}, 5) AS INTEGER))"
    new_id = f"printf('ord-%06d', {new_number})"
    shift = "'-' || ((:copies - 1 - ks.k) * :span_s) || ' seconds'"
    out = []
    for name, decl in columns:
        col = f"x.{name}"
        if name == order_col:
            expr = new_id
        elif (table, name) in EVENT_ID_COLUMNS:
            expr = f"{col} + ks.k * :event_span"
        elif name in id_offsets:
            expr = f"{col} + ks.k * {id_offsets[name]}"
        elif table == "orders" and name == "idempotency_key":
            expr = f"CASE WHEN {col} IS NULL THEN NULL ELSE printf('sim-1-%d', {new_number} - 1) END"
        elif decl.startswith("DATETIME") or decl.startswith("TIMESTAMP"):
            expr = f"CASE WHEN {col} IS NULL THEN NULL ELSE datetime({col}, {shift}) || substr({col}, 20) END"
        elif name in TEXT_WITH_ORDER_ID:
            expr = f"replace({col}, x.{order_col}, {new_id})"
        else:
            expr = col
        out.append(expr)
    return ", ".join(out)


def replicate(template: Path, target: Path, size: int, per_copy: int, log: Any) -> dict[str, Any]:
    """Build ``target`` (and its gateway sibling) holding ``size`` orders copied from ``template``."""
    for p in (target, target.with_name(target.stem + "-gateway.db")):
        for suffix in ("", "-wal", "-shm"):
            Path(str(p) + suffix).unlink(missing_ok=True)
    m.init_db(str(target))
    started = time.perf_counter()
    copies = math.ceil(size / per_copy)
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")  # bulk build: no rollback journal, no fsync; WAL again at the end
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("ATTACH DATABASE ? AS t", (str(template),))
    tables = [r[0] for r in conn.execute("SELECT name FROM t.sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    first, last = conn.execute("SELECT min(placed_at), max(updated_at) FROM t.orders").fetchone()
    span_s = math.ceil((time.mktime(time.strptime(last[:19], "%Y-%m-%d %H:%M:%S")) - time.mktime(time.strptime(first[:19], "%Y-%m-%d %H:%M:%S")))) + 1
    event_span = conn.execute("SELECT max(id) FROM t.events").fetchone()[0]
    params = {"per_copy": per_copy, "copies": copies, "span_s": span_s, "event_span": event_span, "size": size}
    conn.execute("BEGIN")
    for table in REFERENCE_TABLES:
        if table in tables:
            conn.execute(f'INSERT OR REPLACE INTO main."{table}" SELECT * FROM t."{table}"')
    per_table = {}
    for table in tables:
        columns = _columns(conn, "t", table)
        names = [c for c, _ in columns]
        order_col = "id" if table == "orders" else "order_id" if "order_id" in names else None
        if order_col is None or table in REFERENCE_TABLES:
            continue
        id_offsets = {}
        if table != "events" and "id" in names and table != "orders":  # an integer surrogate key (notifications, dead_letters)
            id_offsets["id"] = str(conn.execute(f'SELECT coalesce(max(id), 0) FROM t."{table}"').fetchone()[0])
        select = _select_list(table, columns, order_col, id_offsets)
        t0 = time.perf_counter()
        conn.execute(
            f'WITH RECURSIVE ks(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM ks WHERE k + 1 < :copies) '
            f'INSERT INTO main."{table}" ({", ".join(chr(34) + n + chr(34) for n in names)}) '
            f'SELECT {select} FROM ks CROSS JOIN t."{table}" AS x '
            f"WHERE ks.k * :per_copy + CAST(substr(x.{order_col}, 5) AS INTEGER) <= :size",
            params,
        )
        per_table[table] = round(time.perf_counter() - t0, 1)
        log(f"    {table}: {per_table[table]} s")
    head = conn.execute("SELECT max(id) FROM main.events").fetchone()[0]
    conn.execute("UPDATE order_numbers SET last = :size WHERE name = 'order'", params)
    t0 = time.perf_counter()
    conn.execute("DELETE FROM status_counts")  # counts by status (engine/counters.py): recounted from the copied rows
    for sql in backfill_sql():
        conn.execute(sql)
    per_table["status_counts"] = round(time.perf_counter() - t0, 1)
    subscribers = [r[0] for r in conn.execute("SELECT subscriber FROM t.tracking")]
    for s in subscribers:
        conn.execute(
            "INSERT INTO tracking (subscriber, position, updated_at) VALUES (?, ?, (SELECT max(updated_at) FROM t.tracking))"
            " ON CONFLICT (subscriber) DO UPDATE SET position = excluded.position",
            (s, head),
        )
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE t")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()

    # the simulated gateway's ledger, in its sibling file, likewise
    gw_target, gw_template = target.with_name(target.stem + "-gateway.db"), template.with_name(template.stem + "-gateway.db")
    gw = sqlite3.connect(gw_target, isolation_level=None)
    gw.execute("PRAGMA journal_mode=OFF")
    gw.execute("PRAGMA synchronous=OFF")
    gw.execute("ATTACH DATABASE ? AS t", (str(gw_template),))
    gw.execute("BEGIN")
    for (sql,) in gw.execute("SELECT sql FROM t.sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'").fetchall():
        gw.execute(sql)
    for table in [r[0] for r in gw.execute("SELECT name FROM t.sqlite_master WHERE type='table'").fetchall()]:
        columns = _columns(gw, "t", table)
        key = "idempotency_key" if any(c == "idempotency_key" for c, _ in columns) else None
        if key is None:
            continue
        gw.execute(
            f"WITH RECURSIVE ks(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM ks WHERE k + 1 < :copies) "
            f'INSERT INTO main."{table}" SELECT {_select_list(table, columns, key, {})} FROM ks CROSS JOIN t."{table}" AS x '
            f"WHERE ks.k * :per_copy + CAST(substr(x.{key}, 5) AS INTEGER) <= :size",
            params,
        )
    gw.execute("COMMIT")
    gw.execute("DETACH DATABASE t")
    gw.execute("PRAGMA journal_mode=WAL")
    gw.close()
    return {"build_s": round(time.perf_counter() - started, 1), "copies": copies, "per_table_s": per_table}


def check_consistency(db: Path, size: int) -> dict[str, Any]:
    """Row counts per order-scoped table, and that every context agrees on the set of orders."""
    with sqlite3.connect(db) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (
            "orders", "order_lines", "payments", "store_orders", "deliveries", "order_status", "order_timeline",
            "notification_orders", "notifications", "events",
        )}
        orphans = conn.execute(
            "SELECT (SELECT count(*) FROM order_status s LEFT JOIN orders o ON o.id = s.order_id WHERE o.id IS NULL)"
            " + (SELECT count(*) FROM payments p LEFT JOIN orders o ON o.id = p.order_id WHERE o.id IS NULL)"
            " + (SELECT count(*) FROM store_orders x LEFT JOIN orders o ON o.id = x.order_id WHERE o.id IS NULL)"
        ).fetchone()[0]
        by_status = dict(conn.execute("SELECT status, count(*) FROM order_status GROUP BY status").fetchall())
    ok = counts["orders"] == size and counts["order_status"] == size and counts["payments"] == size and orphans == 0
    return {"ok": ok, "rows": counts, "orphans": orphans, "orders_by_status": by_status}


# -- measuring ------------------------------------------------------------------------------------


def cli_median(cmd_for: Any, runs: int) -> dict[str, float]:
    times = []
    for i in range(runs + 1):
        cmd = cmd_for(i)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-400:]}")
        json.loads(done.stdout)  # it printed valid JSON
        if i:  # the first run only warms the cache
            times.append(elapsed * 1000)
    return {"median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1)}


def in_process(db: Path, size: int, status_samples: int, list_samples: int, rng: random.Random) -> dict[str, Any]:
    from deliverycli.engine.bootstrap import Engine

    t0 = time.perf_counter()
    engine = Engine.open(m.settings_for(str(db)))
    open_s = time.perf_counter() - t0
    try:
        status_times = []
        for _ in range(status_samples):
            oid = f"ord-{rng.randint(1, size):06d}"
            t0 = time.perf_counter()
            view = engine.orders.status(oid)
            status_times.append(time.perf_counter() - t0)
            assert view.id == oid and view.timeline
        list_times = []
        for _ in range(list_samples):
            t0 = time.perf_counter()
            page = engine.orders.list(status="CONFIRMED", limit=50)
            list_times.append(time.perf_counter() - t0)
            assert len(page) == 50
    finally:
        engine.close()
    return {"open_ms": round(open_s * 1000, 1), "status": m.summary_ms(status_times), "orders_list": m.summary_ms(list_times)}


def query_plans(db: Path) -> dict[str, list[str]]:
    """How SQLite answers the two queries (to explain whatever does not stay flat)."""
    with sqlite3.connect(db) as conn:
        return {
            "orders list --status CONFIRMED": [r[3] for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM order_status WHERE status = 'CONFIRMED' ORDER BY placed_at DESC, order_id DESC LIMIT 50 OFFSET 0"
            )],
            "status ORDER (timeline)": [r[3] for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM order_timeline WHERE order_id = 'ord-000001' ORDER BY event_id"
            )],
        }


def space_breakdown(db: Path, size: int) -> list[dict[str, Any]] | None:
    """Bytes per order of each table together with its indexes (SQLite's dbstat), largest first."""
    with sqlite3.connect(db) as conn:
        try:
            rows = conn.execute("SELECT tbl_name, name FROM sqlite_master WHERE type IN ('table', 'index')").fetchall()
            owner = {name: table for table, name in rows}
            sizes = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.OperationalError:  # SQLite built without dbstat
            return None
    per_table: dict[str, list[int]] = {}
    for name, nbytes in sizes:
        table = owner.get(name, name)
        entry = per_table.setdefault(table, [0, 0])
        entry[0 if name == table else 1] += nbytes
    out = [{"table": t, "rows_bytes_per_order": round(v[0] / size), "index_bytes_per_order": round(v[1] / size), "total": round(sum(v) / size)} for t, v in per_table.items()]
    return sorted(out, key=lambda r: -r["total"])


def measure(db: Path, size: int, runs: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    picks = [f"ord-{rng.randint(1, size):06d}" for _ in range(runs + 1)]
    base = [*m.deliverycli_cmd(), "--db", str(db)]
    cli_status = cli_median(lambda i: [*base, "status", picks[i], "--json"], runs)
    cli_list = cli_median(lambda i: [*base, "orders", "list", "--status", "CONFIRMED", "--limit", "50", "--json"], runs)
    inproc = in_process(db, size, 200, 20, rng)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    main_bytes = m.file_bytes(db)
    gw_bytes = m.file_bytes(db.with_name(db.stem + "-gateway.db"))
    return {
        "orders": size,
        "cli_status_ms": cli_status,
        "cli_orders_list_ms": cli_list,
        "in_process": inproc,
        "db_bytes": main_bytes,
        "gateway_bytes": gw_bytes,
        "bytes_per_order": round(main_bytes / size),
        "bytes_per_order_with_gateway": round((main_bytes + gw_bytes) / size),
    }


def main() -> None:
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000", help="comma-separated order counts (default 1000,100000; add 1000000 for the 1M point)")
    parser.add_argument("--template-orders", type=int, default=200, help="orders of the real simulate run that is replicated (default 200)")
    parser.add_argument("--runs", type=int, default=7, help="CLI runs per query and size; the median is reported (default 7)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    log = (lambda msg: print(msg, file=sys.stderr, flush=True))
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info()
        log(f"template: simulating {args.template_orders} orders through the engine ...")
        template, summary = build_template(folder, args.template_orders, args.seed)
        results = []
        for size in sizes:
            db = folder / f"scale-{size}.db"
            log(f"building {size:,} orders ...")
            built = replicate(template, db, size, args.template_orders, log)
            consistency = check_consistency(db, size)
            if not consistency["ok"]:
                raise SystemExit(f"the replicated database is inconsistent: {consistency}")
            log(f"  built in {built['build_s']} s; measuring ...")
            result = measure(db, size, args.runs, args.seed) | {"build": built, "consistency": consistency, "plans": query_plans(db)}
            if size <= 100_000 and size == max(s for s in sizes if s <= 100_000):
                result["space"] = space_breakdown(db, size)
            results.append(result)
            if not args.keep and not args.workdir and size != sizes[-1]:
                for p in folder.glob(f"scale-{size}*"):
                    p.unlink()
        small, big = results[0], results[-1]
        growth = {
            "cli_status": round(big["cli_status_ms"]["median_ms"] / small["cli_status_ms"]["median_ms"], 2),
            "cli_orders_list": round(big["cli_orders_list_ms"]["median_ms"] / small["cli_orders_list_ms"]["median_ms"], 2),
            "in_process_status_p50": round(big["in_process"]["status"]["p50_ms"] / small["in_process"]["status"]["p50_ms"], 2),
            "in_process_orders_list_p50": round(big["in_process"]["orders_list"]["p50_ms"] / small["in_process"]["orders_list"]["p50_ms"], 2),
        }
        out = {
            "benchmark": "scale", "machine": info, "template": {"orders": args.template_orders, "events": summary["events"], "orders_by_status": summary["orders_by_status"]},
            "sizes": results, "growth_smallest_to_largest": growth,
        }
        if args.json:
            m.emit_json(out)
            return
        print("Scale: databases of finished orders (replicated from a real simulate run), SQLite file")
        m.print_machine(info)
        print(f"template: a real simulate run of {args.template_orders} orders ({summary['events']:,} events), statuses {summary['orders_by_status']}")
        rows = [
            {
                "orders": r["orders"],
                "build": r["build"]["build_s"],
                "cli_status": r["cli_status_ms"]["median_ms"],
                "cli_list": r["cli_orders_list_ms"]["median_ms"],
                "open": r["in_process"]["open_ms"],
                "status_p50": r["in_process"]["status"]["p50_ms"],
                "status_p95": r["in_process"]["status"]["p95_ms"],
                "list_p50": r["in_process"]["orders_list"]["p50_ms"],
                "list_p95": r["in_process"]["orders_list"]["p95_ms"],
                "mb": round(r["db_bytes"] / 1e6, 1),
                "bpo": r["bytes_per_order"],
                "bpo_gw": r["bytes_per_order_with_gateway"],
            }
            for r in results
        ]
        m.print_table(rows, [
            ("orders", "orders"), ("build", "build s"), ("cli_status", "CLI status ms"), ("cli_list", "CLI list ms"),
            ("open", "open ms"), ("status_p50", "status p50"), ("status_p95", "status p95"), ("list_p50", "list p50"), ("list_p95", "list p95"),
            ("mb", "DB MB"), ("bpo", "bytes/order"), ("bpo_gw", "+gateway"),
        ])
        print(f"(CLI: median of {args.runs} fresh processes; in-process: Engine.status x200, Engine.orders(status=CONFIRMED, limit=50) x20, ms)")
        print(
            f"\ngrowth {sizes[0]:,} -> {sizes[-1]:,} orders: CLI status x{growth['cli_status']}, CLI orders list x{growth['cli_orders_list']}, "
            f"in-process status x{growth['in_process_status_p50']}, in-process orders list x{growth['in_process_orders_list_p50']}"
        )
        for name, plan in big["plans"].items():
            print(f"query plan, {name}: {' / '.join(plan)}")
        spaced = next((r for r in results if r.get("space")), None)
        if spaced:
            m.print_table(
                [r for r in spaced["space"] if r["total"] >= 10],
                [("table", "table"), ("rows_bytes_per_order", "rows B/order"), ("index_bytes_per_order", "indexes B/order"), ("total", "total B/order")],
                title=f"Where the bytes go, at {spaced['orders']:,} orders (SQLite dbstat; tables under 10 B/order left out)",
            )


if __name__ == "__main__":
    main()
