"""Workers: lifecycles/s with 1, 2 and 4 `deliverycli worker` processes on one database, on SQLite
and on PostgreSQL, the ratio to one worker; and how fast a worker applies an event another process
committed (propagation), against today's 97 ms of the console's polling.

    python benchmarks/bench_workers.py [--orders 300] [--generators 2] [--workers 1,2,4] [--pg-url URL] [--json]

Scaling: for each backend and worker count, a fresh database (SQLite file, or a fresh PostgreSQL
schema) with the demo data; N real `deliverycli worker` processes; then --generators load
generator processes (this script with --generate) place orders and advance each one through its
whole life -- accept, ready, pick up, complete, confirm -- keeping --window orders in flight
each. Their commands only commit (``settle=False``): the sagas in between (the store's ticket, the
delivery to pick up, the order delivered) are the workers' to settle, so a generator's next step
waits for a worker. Measured: from the generators' start until every order is CONFIRMED and no
subscriber lags, lifecycles/s = orders / that time. Baseline: one worker, same run.

Propagation: one `deliverycli --json worker` process; this process commits an AcceptOrder (one
event, CookingStarted) without settling it, and the delay runs from that COMMIT (a SQLAlchemy
commit listener, so an upper bound) until the worker's progress line for the batch that applied it
arrives on the pipe. Samples are spaced by a random pause so they do not lock into step with any poll.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402
from _cpu import PostgresCpu, children_cpu_s, cpu_ceiling, cpu_counters, idle_percent, process_cpu_s, self_cpu_s  # noqa: E402

PROPAGATION_BASELINE_MS = 97  # docs/benchmarks.md: the console's polling follower, p95 (bench_propagation.py)


# -- a load generator (run as a separate process) -------------------------------------------------


def generate(db: str, count: int, window: int, seed: int) -> None:
    import sqlalchemy as sa

    from deliverycli.engine.bootstrap import Engine
    from deliverycli.engine.commands import AcceptOrder, CompleteDelivery, ConfirmDelivery, MarkReady, PickUpDelivery, PlaceOrder
    from deliverycli.engine.delivery import deliveries
    from deliverycli.engine.errors import DeliveryError
    from deliverycli.engine.ordering.repository import orders
    from deliverycli.engine.store import store_orders
    from deliverycli.settings import load_settings

    rng = random.Random(seed)
    with Engine.open(load_settings(db=db), catch_up=False) as engine:
        stores = {s.id: [i.id for i in engine.catalog.menu(s.id)] for s in engine.catalog.stores()}
        customers = [c.id for c in engine.catalog.customers()]
        riders = [r.id for r in engine.catalog.riders()]
        steps = [
            lambda o: AcceptOrder(o["id"], o["store"]), lambda o: MarkReady(o["id"], o["store"]),
            lambda o: PickUpDelivery(o["id"], o["rider"]), lambda o: CompleteDelivery(o["id"], o["rider"]),
            lambda o: ConfirmDelivery(o["id"], o["customer"]),
        ]
        placed, open_orders = 0, []
        ready_for = [  # (table, its status column) whose value lets step k go; read-only, so a step never takes a write lock to learn "not yet"
            (store_orders, "NEW"), (store_orders, "COOKING"), (deliveries, "AVAILABLE"), (deliveries, "PICKED_UP"), (orders, "DELIVERED"),
        ]
        key = {store_orders: store_orders.c.order_id, deliveries: deliveries.c.order_id, orders: orders.c.id}
        while placed < count or open_orders:
            while placed < count and len(open_orders) < window:
                store = rng.choice(sorted(stores))
                customer = rng.choice(customers)
                order = engine.handle(PlaceOrder(customer, store, ((rng.choice(stores[store]), 1),), "1 Bench St"), settle=False)
                open_orders.append({"id": order.id, "store": store, "customer": customer, "rider": rng.choice(riders), "step": 0})
                placed += 1
            ids = [o["id"] for o in open_orders]
            with engine.read() as conn:
                seen = {t: dict(conn.execute(sa.select(key[t], t.c.status).where(key[t].in_(ids))).all()) for t in key}
            progressed = False
            for order in list(open_orders):
                table, wanted = ready_for[order["step"]]
                if seen[table].get(order["id"]) != wanted:
                    continue  # not yet: a worker has still to settle the step before it
                try:
                    engine.handle(steps[order["step"]](order), settle=False)
                except DeliveryError:
                    continue
                progressed = True
                order["step"] += 1
                if order["step"] == len(steps):
                    open_orders.remove(order)
            if not progressed:
                time.sleep(0.005)


# -- the orchestration ----------------------------------------------------------------------------


def fresh_db(folder: Path, backend: str, name: str, pg_url: str | None) -> tuple[str, Any]:
    """A database with the demo data; returns it and a function that drops it."""
    if backend == "sqlite":
        db = str(folder / f"{name}.db")
        drop = lambda: None  # noqa: E731 - the folder goes
    else:
        import psycopg

        schema = f"bench_workers_{name}_{os.getpid()}"
        with psycopg.connect(m.libpq_url(pg_url), autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.execute(f'CREATE SCHEMA "{schema}"')
        db = m.with_search_path(pg_url, schema)

        def drop() -> None:
            with psycopg.connect(m.libpq_url(pg_url), autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.settings import load_settings

    engine, _ = Engine.initialise(load_settings(db=db), demo=True)
    engine.close()
    return db, drop


def start_workers(db: str, n: int, *extra: str) -> list[subprocess.Popen[str]]:
    return [subprocess.Popen([*m.deliverycli_cmd(), "--db", db, "--json", "worker", *extra], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(n)]


def stop_workers(procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    summaries = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise SystemExit(f"a worker exited {proc.returncode}: {err}")
        summaries.append(json.loads(out.strip().splitlines()[-1]))
    return summaries


def wait_registered(engine: Any, n: int) -> None:
    deadline = time.monotonic() + 60
    while len(engine.ops.workers()) < n:
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not register")
        time.sleep(0.05)


def wait_shared(engine: Any, n: int) -> None:
    """PostgreSQL: until the n workers have split the subscribers (a worker takes its share within
    a second or two of starting), so a run measures the split and not the start-up."""
    if engine.db.dialect.name != "postgresql":
        return
    from deliverycli.engine import shares

    subscribers = len(engine.bus.subscribers)
    expected = -(-subscribers // shares.fair_share(subscribers, n))  # workers holding some (with 4 workers and 6 subscribers: 3 hold 2 each)
    deadline = time.monotonic() + 60
    while True:
        with engine.read() as conn:
            held = shares.holders(conn)
        if len(held) == expected and sum(held.values()) == subscribers:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the workers did not split the subscribers: {held}")
        time.sleep(0.05)


def scaling_run(folder: Path, backend: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    import sqlalchemy as sa

    from deliverycli.engine.bootstrap import Engine
    from deliverycli.engine.status import order_status
    from deliverycli.settings import load_settings

    db, drop = fresh_db(folder, backend, f"w{workers}", args.pg_url)
    try:
        procs = start_workers(db, workers)
        with Engine.open(load_settings(db=db), catch_up=False) as engine:
            wait_registered(engine, workers)
            wait_shared(engine, workers)
            per = [args.orders // args.generators + (1 if i < args.orders % args.generators else 0) for i in range(args.generators)]
            started, cpu = time.perf_counter(), cpu_counters()
            cpu_at_start = {"workers": sum(process_cpu_s(p.pid) for p in procs), "generators": children_cpu_s(), "this script": self_cpu_s()}
            server, looked = PostgresCpu().start(), time.perf_counter()
            gens = [subprocess.Popen([sys.executable, __file__, "--generate", db, str(n), str(args.window), str(i)]) for i, n in enumerate(per)]
            confirmed = sa.select(sa.func.count()).select_from(order_status).where(order_status.c.status == "CONFIRMED")
            while True:
                with engine.read() as conn:
                    done = conn.execute(confirmed).scalar_one()
                if done >= args.orders and all(g.poll() is not None for g in gens) and not any(engine.ops.lag().values()):
                    break
                if any(g.poll() not in (None, 0) for g in gens):
                    raise SystemExit("a load generator failed")
                if backend == "postgresql" and time.perf_counter() - looked > 0.5:
                    server.look()
                    looked = time.perf_counter()
                time.sleep(0.02)
            elapsed, idle = time.perf_counter() - started, idle_percent(cpu, cpu_counters())
            used = {"workers": sum(process_cpu_s(p.pid) for p in procs), "generators": children_cpu_s(),  # only the generators were reaped
                    "this script": self_cpu_s()}
            cpu_ms = {k: round(1000 * (used[k] - cpu_at_start[k]) / args.orders, 2) for k in used}
            cpu_ms["postgres"] = round(1000 * server.used_s() / args.orders, 2) if backend == "postgresql" else 0.0
            problems = engine.ops.check_invariants().problems
        summaries = stop_workers(procs)
    finally:
        drop()
    if problems:
        raise SystemExit(f"invariants broken after the run: {problems[:5]}")
    return {
        "backend": backend, "workers": workers, "orders": args.orders, "seconds": round(elapsed, 3),
        "lifecycles_per_s": round(args.orders / elapsed, 1), "applied_per_worker": [s["events_applied"] for s in summaries],
        "machine_idle_pct": idle, "cpu_ms_per_lifecycle": cpu_ms, "cpu_ms_total": round(sum(cpu_ms.values()), 1),
        "cpu_ceiling_per_s": cpu_ceiling(args.orders / elapsed, sum(cpu_ms.values()), idle),
    }


def drain_run(folder: Path, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    """PostgreSQL: how fast N workers drain a backlog of --backlog placed orders whose sagas nobody
    settled. The workers start while this process holds every subscriber's tracking row (they skip
    them all); the clock starts when it lets go (with a NOTIFY, so they wake at once)."""
    import sqlalchemy as sa

    from deliverycli.engine import eventlog
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.engine.commands import PlaceOrder
    from deliverycli.settings import load_settings

    db, drop = fresh_db(folder, "postgresql", f"d{workers}", args.pg_url)
    try:
        with Engine.open(load_settings(db=db)) as engine:
            engine.orders.place("alice", "pizza-palace", ["cola"], "1 Bench St")  # every tracking row exists
            for i in range(args.backlog):
                engine.handle(PlaceOrder(("alice", "bob", "carol")[i % 3], "pizza-palace", (("cola", 1),), "1 Bench St"), settle=False)
            backlog = sum(engine.ops.lag().values())
            holder = engine.db.connect()
            tx = holder.begin()
            for name in engine.bus.handled():
                eventlog.lock_position(holder, name, engine.clock.now())
            procs = start_workers(db, workers)
            wait_registered(engine, workers)
            wait_shared(engine, workers)
            holder.execute(sa.text(f'NOTIFY "{eventlog.notify_channel(holder)}"'))
            started, cpu, children = time.perf_counter(), cpu_counters(), children_cpu_s()
            tx.commit()
            holder.close()
            while any(engine.ops.lag().values()):
                time.sleep(0.01)
            elapsed, idle = time.perf_counter() - started, idle_percent(cpu, cpu_counters())
            summaries = stop_workers(procs)
            workers_cpu = children_cpu_s() - children  # the workers' own CPU (start-up before the clock excluded only roughly)
            problems = engine.ops.check_invariants().problems
    finally:
        drop()
    if problems:
        raise SystemExit(f"invariants broken after the drain: {problems[:5]}")
    return {"workers": workers, "backlog_events": backlog, "seconds": round(elapsed, 3), "events_per_s": round(backlog / elapsed),
            "applied_per_worker": [s["events_applied"] for s in summaries], "machine_idle_pct": idle, "workers_cpu_s": round(workers_cpu, 2)}


def propagation(folder: Path, backend: str, args: argparse.Namespace) -> dict[str, Any]:
    import sqlalchemy as sa

    from deliverycli.engine.bootstrap import Engine
    from deliverycli.engine.commands import AcceptOrder
    from deliverycli.settings import load_settings

    db, drop = fresh_db(folder, backend, "propagation", args.pg_url)
    try:
        with Engine.open(load_settings(db=db)) as engine:
            ids = [engine.orders.place("alice", "pizza-palace", ["cola"], "1 Bench St").id for _ in range(args.samples)]
            (proc,) = start_workers(db, 1)
            lines: queue.Queue[float] = queue.Queue()

            def read() -> None:
                assert proc.stdout is not None
                for line in proc.stdout:
                    if '"status"' in line and '"events_applied"' in line:
                        lines.put(time.perf_counter())

            threading.Thread(target=read, daemon=True).start()
            wait_registered(engine, 1)
            commits: list[float] = []
            sa.event.listen(engine.db, "commit", lambda conn: commits.append(time.perf_counter()))
            delays = []
            for oid in ids:
                time.sleep(random.uniform(0, args.max_gap_ms / 1000))
                while not lines.empty():
                    lines.get_nowait()
                commits.clear()
                engine.handle(AcceptOrder(oid, "pizza-palace"), settle=False)
                committed = commits[0]
                delays.append(lines.get(timeout=30) - committed)
            proc.send_signal(signal.SIGTERM)
            if proc.wait(timeout=60) != 0:
                raise SystemExit(f"the worker exited {proc.returncode}")
    finally:
        drop()
    return {"backend": backend, **m.summary_ms(delays), "baseline_p95_ms": PROPAGATION_BASELINE_MS}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        db, count, window, seed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        generate(db, count, window, seed)
        return
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300, help="lifecycles per run")
    parser.add_argument("--generators", type=int, default=2, help="load generator processes")
    parser.add_argument("--window", type=int, default=20, help="orders each generator keeps in flight")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to compare (the first is the baseline)")
    parser.add_argument("--samples", type=int, default=100, help="propagation samples per backend (0: skip)")
    parser.add_argument("--max-gap-ms", type=int, default=60, help="random pause before each propagation sample")
    parser.add_argument("--pg-url", default=os.environ.get(m.PG_ENV), help="PostgreSQL server (default: $" + m.PG_ENV + ")")
    parser.add_argument("--backends", default="sqlite,postgresql", help="which backends (postgresql needs --pg-url)")
    parser.add_argument("--backlog", type=int, default=300, help="PostgreSQL: orders in the backlog the workers drain (0: skip)")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    backends = [b for b in args.backends.split(",") if b == "sqlite" or args.pg_url]
    info = m.machine_info(args.pg_url)
    rows, delays, drains = [], [], []
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        for backend in backends:
            base = None
            for n in counts if args.orders else ():
                row = scaling_run(folder, backend, n, args)
                base = base or row["lifecycles_per_s"]
                row["ratio_to_one"] = round(row["lifecycles_per_s"] / base, 2)
                row["ceiling_ratio"] = round(row["cpu_ceiling_per_s"] / base, 2) if row["cpu_ceiling_per_s"] else None
                for kind, ms in row["cpu_ms_per_lifecycle"].items():
                    row[f"cpu_{kind}"] = ms
                rows.append(row)
                if not args.json:
                    print(f"  {backend} {n} worker(s): {row['lifecycles_per_s']} lifecycles/s", file=sys.stderr)
            if args.samples:
                delays.append(propagation(folder, backend, args))
        if args.pg_url and args.backlog and "postgresql" in backends:
            for n in counts:
                row = drain_run(folder, n, args)
                row["ratio_to_one"] = round(row["events_per_s"] / (drains[0]["events_per_s"] if drains else row["events_per_s"]), 2)
                drains.append(row)
    result = {"machine": info, "scaling": rows, "drain": drains, "propagation": delays, "options": vars(args) | {"pg_url": bool(args.pg_url)}}
    if args.json:
        m.emit_json(result)
        return
    m.print_machine(info)
    m.print_table(rows, [("backend", "backend"), ("workers", "workers"), ("orders", "orders"), ("seconds", "seconds"),
                         ("lifecycles_per_s", "lifecycles/s"), ("ratio_to_one", "x one worker"), ("machine_idle_pct", "machine idle %")],
                  title=f"Scaling: {args.generators} load generator processes, {args.window} orders in flight each")
    m.print_table(rows, [("backend", "backend"), ("workers", "workers"), ("cpu_workers", "workers"), ("cpu_generators", "generators"),
                         ("cpu_postgres", "postgres"), ("cpu_this script", "this script"), ("cpu_ms_total", "total"),
                         ("cpu_ceiling_per_s", "CPU ceiling lifecycles/s"), ("ceiling_ratio", "ceiling x one worker")],
                  title="CPU ms per lifecycle, by process; the ceiling: this run's CPU plus the idle CPU, spent at this cost per lifecycle")
    if drains:
        m.print_table(drains, [("workers", "workers"), ("backlog_events", "backlog events"), ("seconds", "seconds"), ("events_per_s", "events/s"),
                               ("ratio_to_one", "x one worker"), ("machine_idle_pct", "machine idle %"), ("workers_cpu_s", "workers CPU s"),
                               ("applied_per_worker", "applied by each")],
                      title=f"PostgreSQL backlog drain: {args.backlog} placed orders nobody settled")
    if delays:
        m.print_table(delays, [("backend", "backend"), ("n", "samples"), ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("max_ms", "max ms"),
                               ("baseline_p95_ms", "console polling p95 ms")],
                      title="Propagation: a commit in another process -> a worker applied it")


if __name__ == "__main__":
    main()
