"""Counts that do not scan, and pages with keys (issue 15 §2), in-process: before vs after at 1k,
100k and 1M orders, in the same run, on the same databases.

    python benchmarks/bench_counts.py [--sizes 1000,100000,1000000] [--runs 200] [--cache DIR] [--json]

The databases are bench_tui_terminal.py's (built and cached the same way; pass the same --cache).
Measured per size (p50 over --runs, after a warm-up), each "before" being the query the main
branch ran before this change (copied here verbatim) and "after" what the engine runs now:

  operations()   the operations view's whole call (health.operations): before with the orders-by-
                 status count scanning the status view's index, after reading the counters;
  ops counts     just that count: GROUP BY over order_status vs status_counts rows;
  store counts   the store view's tab counts for the busiest store: GROUP BY over its index range
                 of store_orders vs its counters;
  customer count My orders' "of N": COUNT over the customer's index range vs their counters;
  page 100       My orders' page 100 (or the deepest page the customer has, if fewer) for the busiest
                 customer: LIMIT 51 OFFSET 4950 vs the keyset page after the cursor of the order just before it.

The ratio is to the 1k database in the same run (flat = 1.0).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402
import sqlalchemy as sa  # noqa: E402

PAGE = 50


# -- before: the queries of the main branch (engine/status.py, engine/store.py at 08033c3) -------------


def counts_by_status_before(conn: sa.Connection) -> dict[str, int]:
    from deliverycli.engine.status import order_status

    rows = conn.execute(sa.select(order_status.c.status, sa.func.count()).group_by(order_status.c.status))
    return {status: count for status, count in rows}


def store_counts_before(conn: sa.Connection, store_id: str) -> dict[str, int]:
    from deliverycli.engine import catalog
    from deliverycli.engine.lifecycle import TicketStatus
    from deliverycli.engine.store import store_orders

    catalog.get_store(conn, store_id)
    rows = conn.execute(sa.select(store_orders.c.status, sa.func.count()).where(store_orders.c.store_id == store_id).group_by(store_orders.c.status))
    return {status.value: 0 for status in TicketStatus} | {status: count for status, count in rows}


def customer_count_before(conn: sa.Connection, customer_id: str) -> int:
    from deliverycli.engine.status import order_status

    return conn.execute(sa.select(sa.func.count()).select_from(order_status).where(order_status.c.customer_id == customer_id)).scalar_one()


def page_before(conn: sa.Connection, customer_id: str, page: int) -> list[Any]:
    from deliverycli.engine.status import list_orders

    return list_orders(conn, customer_id=customer_id, limit=PAGE + 1, offset=page * PAGE)


# -- measuring --------------------------------------------------------------------------------------


def _p50(call: Callable[[], Any], runs: int) -> float:
    for _ in range(min(20, runs)):
        call()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def measure(db: Path, who: dict[str, str], runs: int) -> dict[str, Any]:
    from deliverycli.engine import counters, health
    from deliverycli.engine import status as status_view
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.engine.store import queue_counts

    with Engine.open(m.settings_for(str(db)), catch_up=False) as engine:
        settings, handled = engine.settings, engine.handled()
        store, customer = who["store"], who["customer"]
        with engine.read() as conn:
            n = customer_count_before(conn, customer)
            page = min(99, (n - 1) // PAGE)  # page 100, or the customer's last
            before_first = status_view.list_orders(conn, customer_id=customer, limit=1, offset=page * PAGE - 1)[0] if page else None
            after = status_view.cursor(before_first) if before_first else None
            assert [o.id for o in page_before(conn, customer, page)[:PAGE]] == [o.id for o in status_view.page_orders(conn, customer_id=customer, limit=PAGE, after=after).orders]
            assert counts_by_status_before(conn) == status_view.counts_by_status(conn)
            assert store_counts_before(conn, store) == queue_counts(conn, store)
            assert customer_count_before(conn, customer) == status_view.count_orders(conn, customer_id=customer)

        def operations() -> Any:
            return health.operations(engine.db, handled, settings.breaker_fail_max, settings.breaker_reset_timeout_s, now=engine.clock.now())

        out: dict[str, Any] = {"page": page + 1, "customer_orders": n}
        out["operations() after"] = _p50(operations, runs)
        status_view.counts_by_status, kept = counts_by_status_before, status_view.counts_by_status  # main's operations()
        try:
            out["operations() before"] = _p50(operations, runs)
        finally:
            status_view.counts_by_status = kept
        with engine.read() as conn:
            out["ops counts before"] = _p50(lambda: counts_by_status_before(conn), runs)
            out["ops counts after"] = _p50(lambda: counters.read(conn, counters.ORDERS), runs)
            out["store counts before"] = _p50(lambda: store_counts_before(conn, store), runs)
            out["store counts after"] = _p50(lambda: queue_counts(conn, store), runs)
            out["customer count before"] = _p50(lambda: customer_count_before(conn, customer), runs)
            out["customer count after"] = _p50(lambda: status_view.count_orders(conn, customer_id=customer), runs)
            out["page 100 before"] = _p50(lambda: page_before(conn, customer, page), runs)
            out["page 100 after"] = _p50(lambda: status_view.page_orders(conn, customer_id=customer, limit=PAGE, after=after), runs)
    return out


def main() -> None:
    import tempfile

    from bench_tui_terminal import build

    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--template-orders", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default=None, help="bench_tui_terminal.py's cache of databases")
    args = parser.parse_args()
    from deliverycli.engine.storage import SCHEMA_HEAD

    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    cache = Path(args.cache or Path(tempfile.gettempdir()) / f"deliverycli-bench-tui-{SCHEMA_HEAD}")
    cache.mkdir(parents=True, exist_ok=True)
    log = (lambda msg: print(msg, file=sys.stderr, flush=True))
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info()
        dbs = {size: build(cache, size, args.template_orders, args.seed, log) for size in sizes}
        results = {size: measure(Path(d["db"]), d["who"], args.runs) for size, d in dbs.items()}
        base = sizes[0]
        metrics = [k for k in results[base] if k.endswith("before") or k.endswith("after")]
        rows = []
        for metric in metrics:
            row: dict[str, Any] = {"metric": metric}
            for size in sizes:
                row[str(size)] = round(results[size][metric], 3)
                if size != base:
                    row[f"x{size}"] = round(results[size][metric] / results[base][metric], 2)
            rows.append(row)
        out = {"benchmark": "counts", "machine": info, "runs": args.runs, "results": {str(s): r for s, r in results.items()}, "rows": rows}
        if args.json:
            m.emit_json(out)
            return
        print(f"Counts and pages, in-process, p50 ms over {args.runs} runs; ratio to {base:,} orders (same run)")
        m.print_machine(info)
        for size in sizes:
            d = dbs[size]
            print(f"{d['orders']:,} orders: busiest store {d['who']['store']}, busiest customer {d['who']['customer']} "
                  f"({results[size]['customer_orders']:,} orders; page measured: {results[size]['page']})")
        columns = [("metric", "metric")] + [c for size in sizes for c in ([(str(size), f"{size:,} ms")] + ([(f"x{size}", f"x vs {base:,}")] if size != base else []))]
        m.print_table(rows, columns)


if __name__ == "__main__":
    main()
