"""Deadlines: what durable timers cost the saga, and how fast due timers fire, each against its baseline
in the same run (SQLite file; PostgreSQL too with --pg-url or DELIVERYCLI_TEST_POSTGRES_URL).

    python benchmarks/bench_deadlines.py [--orders 300] [--timers 300] [--rounds 3] [--pg-url URL] [--json]

1. **Scheduling overhead.** `simulate` N orders (no one late) with the deadlines at their defaults
   (each order starts and ends three timers, in its events' transactions) against the same run with
   every deadline 0 (the commit hook writes nothing). Ratio on/off: 1.0 means free.
2. **Firing.** N paid orders whose acceptance deadline is due, fired by `engine.timers.fire_due`
   (claim + reject + refund + notifications, then drained) against the same N rejections issued by
   the store itself (`engine.store.reject` in `engine.deferred()`: the same command and sagas, no
   claim). Ratio fired/issued: the cost of the claim and the per-timer transaction.

Rounds alternate which side runs first; medians are reported, and every round's figures.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402

OFF = {"accept_timeout_s": 0, "pickup_alert_s": 0, "confirm_timeout_s": 0}


def _fresh(base: str, folder: Path, name: str) -> tuple[str, Any]:
    """A fresh database (a SQLite file, or a new PostgreSQL schema) and how to drop it."""
    if base == "sqlite":
        return str(folder / f"{name}-{uuid.uuid4().hex[:6]}.db"), lambda: None
    import sqlalchemy as sa

    schema = f"bench_dl_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return m.with_search_path(base, schema), drop


def simulate_once(db: str, orders: int, seed: int, **overrides: Any) -> float:
    from deliverycli.engine.simulation import SimulationOptions, simulate

    m.init_db(db)
    summary = simulate(m.settings_for(db, **overrides), SimulationOptions(orders=orders, seed=seed))
    if summary["unfinished"]:
        raise SystemExit(f"the simulation did not finish: {summary}")
    return summary["orders"] / summary["wall_time_s"]


def _paid_orders(db: str, n: int, clock: Any) -> tuple[Any, list[str]]:
    from deliverycli.engine.bootstrap import Engine

    engine, _ = Engine.initialise(m.settings_for(db), demo=True, clock=clock)
    with engine.deferred():
        ids = [engine.orders.place("alice", "green-bowl", ["poke"], "1 Bench Rd").id for _ in range(n)]
    return engine, ids


def fire_once(db: str, n: int) -> float:
    from deliverycli.engine.clock import ManualClock

    clock = ManualClock(datetime.now(UTC))
    engine, ids = _paid_orders(db, n, clock)
    try:
        clock.advance(600)
        started = time.perf_counter()
        fired = engine.timers.fire_due(limit=None)
        wall = time.perf_counter() - started
        assert len(fired) == n and {t.state for t in fired} == {"fired"}, fired[:3]
        return n / wall
    finally:
        engine.close()


def issue_once(db: str, n: int) -> float:
    from deliverycli.engine.clock import ManualClock

    clock = ManualClock(datetime.now(UTC))
    engine, ids = _paid_orders(db, n, clock)
    try:
        started = time.perf_counter()
        with engine.deferred():
            for order_id in ids:
                engine.store.reject(order_id, "green-bowl", "not accepted in time")
        wall = time.perf_counter() - started
        return n / wall
    finally:
        engine.close()


def measure(base: str, folder: Path, args: Any) -> dict[str, Any]:
    rounds: list[dict[str, float]] = []
    for r in range(args.rounds):
        one: dict[str, float] = {}
        pairs = [("sim_on", lambda db: simulate_once(db, args.orders, r)), ("sim_off", lambda db: simulate_once(db, args.orders, r, **OFF))]
        pairs += [("fire", lambda db: fire_once(db, args.timers)), ("issue", lambda db: issue_once(db, args.timers))]
        order = pairs if r % 2 == 0 else [pairs[1], pairs[0], pairs[3], pairs[2]]
        for name, run in order:
            db, drop = _fresh(base, folder, name)
            try:
                one[name] = run(db)
            finally:
                drop()
        rounds.append(one)
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    return {
        "backend": "sqlite" if base == "sqlite" else "postgresql",
        "median": {k: round(v, 1) for k, v in med.items()},
        "ratio_scheduling_on_off": round(med["sim_on"] / med["sim_off"], 3),
        "ratio_fired_vs_issued": round(med["fire"] / med["issue"], 3),
        "rounds": [{k: round(v, 1) for k, v in r.items()} for r in rounds],
    }


def main() -> None:
    parser = m.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--timers", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get(m.PG_ENV))
    args = parser.parse_args()
    info = m.machine_info(args.pg_url)
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        results = [measure("sqlite", folder, args)] + ([measure(args.pg_url, folder, args)] if args.pg_url else [])
    if args.json:
        m.emit_json({"machine": info, "results": results})
        return
    m.print_machine(info)
    for res in results:
        med = res["median"]
        print(f"\n{res['backend']}: {args.orders} orders simulated, {args.timers} due timers; {args.rounds} round(s), medians")
        m.print_table([
            {"run": "simulate, deadlines at defaults", "rate": med["sim_on"], "unit": "lifecycles/s"},
            {"run": "simulate, every deadline 0 (baseline)", "rate": med["sim_off"], "unit": "lifecycles/s"},
            {"run": "fire_due: due acceptance deadlines", "rate": med["fire"], "unit": "rejections/s"},
            {"run": "store.reject, same rejections (baseline)", "rate": med["issue"], "unit": "rejections/s"},
        ], [("run", "run"), ("rate", "rate"), ("unit", "unit")])
        print(f"ratio scheduling on/off: {res['ratio_scheduling_on_off']}   ratio fired/issued: {res['ratio_fired_vs_issued']}")
        print("per round: " + "; ".join(", ".join(f"{k} {v}" for k, v in r.items()) for r in res["rounds"]))


if __name__ == "__main__":
    main()
