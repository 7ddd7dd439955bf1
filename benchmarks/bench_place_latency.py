"""Place-order latency, in-process: p50/p95/p99 of `Engine.place_order` vs one raw sqlite3 transaction.

    python benchmarks/bench_place_latency.py [--samples 300] [--json]

Measured on a SQLite file (WAL, synchronous=NORMAL) with the demo catalogue; every sample places a
two-line order with the default (approving) test card.

* engine, place_order: what a caller waits for — the order committed, the synchronous payment call
  (simulated gateway, its own ledger file), the payment recorded, and the sagas it starts settled
  (store ticket, status view, notifications), as `deliverycli orders place` does.
* engine, sagas deferred: the same call inside `engine.deferred()`, so the subscribers run later
  (the command and the payment only).
* raw sqlite3, 1 transaction: the baseline — one hand-written transaction with the placement's own
  rows (order number, order, its lines, the OrderPlaced event).
* raw sqlite3, same transactions: every transaction a placement causes (order, gateway charge,
  payment, store ticket, status view, notifications), written by hand as in the throughput benchmark.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402
import _raw  # noqa: E402

ITEMS = ["margherita:2", "cola"]


def engine_latencies(db: str, samples: int, warmup: int) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    from deliverycli.engine.bootstrap import Engine

    engine, _ = Engine.initialise(m.settings_for(db), demo=True)
    customers = ["alice", "bob", "carol", "dave", "erin"]
    try:
        for i in range(warmup):
            engine.orders.place(customers[i % 5], "pizza-palace", ITEMS, f"{i} Warmup St")
        full, deferred, settle = [], [], []
        first_order = None
        for i in range(samples):
            t0 = time.perf_counter()
            order = engine.orders.place(customers[i % 5], "pizza-palace", ITEMS, f"{i} Bench St")
            full.append(time.perf_counter() - t0)
            first_order = first_order or order.id
        for i in range(samples):
            with engine.deferred():
                t0 = time.perf_counter()
                engine.orders.place(customers[i % 5], "pizza-palace", ITEMS, f"{i} Deferred St")
                t1 = time.perf_counter()
            settle.append(time.perf_counter() - t1)
            deferred.append(t1 - t0)
    finally:
        engine.close()
    with sqlite3.connect(db) as conn:  # the events one placement caused, to replay by hand
        stream = [r for r in _raw.engine_event_stream(conn) if r[1] == first_order]
    return m.summary_ms(full), {"command": m.summary_ms(deferred), "settle_afterwards": m.summary_ms(settle)}, stream


def raw_one_transaction(folder: Path, samples: int, warmup: int) -> dict[str, Any]:
    """One transaction: the order number, the order, its two lines and the OrderPlaced event."""
    db = str(folder / "raw-one.db")
    m.init_db(db)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    lines = [
        {"menu_item_id": "margherita", "name": "Margherita pizza", "unit_price": 18000, "quantity": 2},
        {"menu_item_id": "cola", "name": "Cola", "unit_price": 2000, "quantity": 1},
    ]
    times = []
    for i in range(warmup + samples):
        t0 = time.perf_counter()
        now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
        conn.execute("BEGIN IMMEDIATE")
        number = conn.execute("UPDATE order_numbers SET last = last + 1 WHERE name = 'order' RETURNING last").fetchone()[0]
        order_id = f"ord-{number:06d}"
        conn.execute(
            "INSERT INTO orders (id, customer_id, store_id, address, total, currency, status, resume_status, reason, placed_at, updated_at, version, idempotency_key)"
            " VALUES (?, 'alice', 'pizza-palace', ?, 38000, 'KRW', 'PENDING_PAYMENT', NULL, NULL, ?, ?, 1, NULL)",
            (order_id, f"{i} Raw St", now, now),
        )
        conn.executemany(
            "INSERT INTO order_lines (order_id, line_no, menu_item_id, name, unit_price, quantity) VALUES (?, ?, ?, ?, ?, ?)",
            [(order_id, n, l["menu_item_id"], l["name"], l["unit_price"], l["quantity"]) for n, l in enumerate(lines, 1)],
        )
        payload = {"order_id": order_id, "customer_id": "alice", "store_id": "pizza-palace", "lines": lines, "total": 38000, "currency": "KRW", "address": f"{i} Raw St"}
        conn.execute(
            "INSERT INTO events (event_type, schema_version, order_id, actor, context, occurred_at, payload) VALUES ('OrderPlaced', 1, ?, 'customer:alice', 'ordering', ?, ?)",
            (order_id, now, json.dumps(payload)),
        )
        conn.execute("COMMIT")
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    conn.close()
    return m.summary_ms(times)


def raw_same_transactions(folder: Path, stream: list[Any], samples: int, warmup: int, engine_gateway: str) -> dict[str, Any]:
    """Every transaction one placement causes, replayed by hand with a fresh order id each time."""
    db, gw = str(folder / "raw-same.db"), str(folder / "raw-same-gw.db")
    m.init_db(db)
    conn, gw_conn = _raw.prepare_raw_sqlite(db, gw, engine_gateway)
    writer = _raw.RawWriter(conn, gw_conn, "sqlite")
    template = stream
    old = template[0][1]
    times = []
    for i in range(warmup + samples):
        new = f"raw-{i:07d}"
        t0 = time.perf_counter()
        for event_type, _, actor, context, payload, status in template:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            writer.apply(event_type, new, actor, context, json.loads(text.replace(old, new)), status)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    conn.close()
    gw_conn.close()
    return m.summary_ms(times) | {"transactions_per_placement": round(writer.transactions / (warmup + samples), 2), "events_per_placement": len(template)}


def main() -> None:
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="placements measured per variant (default 300)")
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info()
        engine_db = str(folder / "engine.db")
        full, deferred, stream = engine_latencies(engine_db, args.samples, args.warmup)
        one = raw_one_transaction(folder, args.samples, args.warmup)
        same = raw_same_transactions(folder, stream, args.samples, args.warmup, str(folder / "engine-gateway.db"))
        result = {
            "benchmark": "place_latency", "machine": info, "samples": args.samples,
            "engine_place_order": full, "engine_sagas_deferred": deferred["command"], "engine_deferred_settle": deferred["settle_afterwards"],
            "raw_one_transaction": one, "raw_same_transactions": same,
            "ratio_p50_vs_one_txn": round(full["p50_ms"] / one["p50_ms"], 1),
            "ratio_p50_vs_same_txns": round(full["p50_ms"] / same["p50_ms"], 2),
            "events_per_placement": [r[0] for r in stream],
        }
        if args.json:
            m.emit_json(result)
            return
        print("Place-order latency, in-process, SQLite file (WAL, synchronous=NORMAL)")
        m.print_machine(info)
        rows = [
            {"what": "engine: place_order (command + payment + sagas settled)"} | full,
            {"what": "engine: place_order, sagas deferred (command + payment)"} | deferred["command"],
            {"what": "  ...then settling those sagas (drain)"} | deferred["settle_afterwards"],
            {"what": "raw sqlite3: 1 transaction (order, lines, number, event)"} | one,
            {"what": f"raw sqlite3: the same {same['transactions_per_placement']:g} transactions by hand"} | same,
        ]
        m.print_table(rows, [("what", f"{args.samples} placements each"), ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("p99_ms", "p99 ms"), ("mean_ms", "mean ms")])
        print(f"\nratio (p50) engine place_order / raw 1 transaction: {result['ratio_p50_vs_one_txn']}x")
        print(f"ratio (p50) engine place_order / raw same transactions: {result['ratio_p50_vs_same_txns']}x")
        print(f"events one placement writes: {', '.join(result['events_per_placement'])}")


if __name__ == "__main__":
    main()
