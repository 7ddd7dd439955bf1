"""The HTTP gateway: requests/s and p50/p99 of `GET /statusChecks/{id}` and `POST /orders` against a
bare route of the same server, and the in-process place latency, all in one run.

    python benchmarks/bench_http.py [--clients 8] [--seconds 5] [--orders 300] [--pg-url URL] [--json]

One `deliverycli serve` (one worker) on a demo database, started with the benchmark setting that
adds `GET /bench/constant` (a plain route returning a constant, run in the thread pool as every
engine route is). Concurrent httpx clients (asyncio, ``--clients`` connections) in this process.
Targets (issue 12): statusChecks >= 0.5 x the bare route's requests/s; POST /orders p50 <= 2 x the
in-process `engine.orders.place` p50 measured here (same database, no HTTP), compared at the same
concurrency: ``--clients`` HTTP clients against as many threads, and one client against one caller
(with several, both p50s include waiting for the database's one writer at a time).
Also: how long a commit by another process takes to reach an /events stream (event time to arrival).
The clients share the machine's cores with the server: on 2 cores they take part of its CPU.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402

CUSTOMERS = ["alice", "bob", "carol", "dave", "erin"]
ADDRESS = "1 Bench St"
ORDER_BODY = {"store_id": "pizza-palace", "items": [{"menu_item_id": "margherita", "quantity": 2}, {"menu_item_id": "cola"}], "address": ADDRESS}


def start_server(db: str, folder: Path) -> tuple[subprocess.Popen, str]:
    env = os.environ | {"DELIVERYCLI_SERVER_BENCH_ROUTE": "1", "DELIVERYCLI_CONFIG": str(folder / "no-config.toml")}
    proc = subprocess.Popen([*m.deliverycli_cmd(), "--db", db, "--json", "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"serve did not start: {proc.stderr.read()}")
    return proc, json.loads(line)["url"]


async def load(url: str, clients: int, seconds: float, request: Any, count: int | None = None) -> dict[str, Any]:
    """``clients`` connections each sending ``request(client, i)`` back to back for ``seconds`` (or ``count`` in all)."""
    import httpx

    latencies: list[float] = []
    errors: dict[int, int] = {}
    sent = 0
    deadline = time.perf_counter() + seconds

    async def client_loop(client: httpx.AsyncClient, n: int) -> None:
        nonlocal sent
        while (count is None and time.perf_counter() < deadline) or (count is not None and sent < count):
            sent += 1
            t0 = time.perf_counter()
            response = await request(client, sent)
            latencies.append(time.perf_counter() - t0)
            if response.status_code >= 300:
                errors[response.status_code] = errors.get(response.status_code, 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client, n) for n in range(clients)))
        wall = time.perf_counter() - started
    return {"requests": len(latencies), "rps": round(len(latencies) / wall, 1), **m.summary_ms(latencies), "errors": errors}


def in_process_place(db: str, samples: int, callers: int) -> dict[str, Any]:
    """``engine.orders.place`` in this process, no HTTP: ``callers`` threads placing ``samples`` orders in all."""
    from concurrent.futures import ThreadPoolExecutor

    from deliverycli.engine.bootstrap import Engine

    with Engine.open(m.settings_for(db)) as engine:
        for i in range(20):
            engine.orders.place(CUSTOMERS[i % 5], "pizza-palace", ["margherita:2", "cola"], ADDRESS)

        def place(i: int) -> float:
            t0 = time.perf_counter()
            engine.orders.place(CUSTOMERS[i % 5], "pizza-palace", ["margherita:2", "cola"], ADDRESS)
            return time.perf_counter() - t0

        started = time.perf_counter()
        with ThreadPoolExecutor(callers) as pool:
            times = list(pool.map(place, range(samples)))
        wall = time.perf_counter() - started
    return {"requests": samples, "rps": round(samples / wall, 1), **m.summary_ms(times), "errors": {}}


def sse_propagation(url: str, db: str, ops_token: str, orders: int) -> dict[str, Any]:
    """Orders placed by this process (another process to the server), at random moments; for each,
    the time from its OrderPlaced event's timestamp to its arrival on an /events stream."""
    import httpx

    from deliverycli.engine.bootstrap import Engine

    arrivals: dict[int, float] = {}
    done = threading.Event()

    def follow(response: httpx.Response) -> None:
        event_type = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event_type = line[7:]
            elif line.startswith("data: ") and event_type == "OrderPlaced":
                data = json.loads(line[6:])
                arrivals[data["id"]] = time.time() - datetime.fromisoformat(data["occurred_at"]).timestamp()
                if len(arrivals) >= orders:
                    done.set()
                    return

    with httpx.Client(base_url=url, timeout=httpx.Timeout(60, read=None)) as client, Engine.open(m.settings_for(db)) as engine:
        head = engine.events.head()
        with client.stream("GET", f"/events?after={head}", headers={"Authorization": f"Bearer {ops_token}"}) as response:
            reader = threading.Thread(target=follow, args=(response,), daemon=True)
            reader.start()
            rng = random.Random(7)
            for i in range(orders):
                time.sleep(rng.uniform(0, 0.3))  # not in step with the server's polls
                engine.orders.place(CUSTOMERS[i % 5], "green-bowl", ["poke"], ADDRESS)
            done.wait(30)
    return m.summary_ms(list(arrivals.values())) | {"received": len(arrivals), "sent": orders}


def bench(db: str, folder: Path, args: Any) -> dict[str, Any]:
    from deliverycli.engine.bootstrap import Engine

    engine, _ = Engine.initialise(m.settings_for(db), demo=True)
    with engine:
        tokens = {c: engine.tokens.create("customer", c).token for c in CUSTOMERS}
        ops = engine.tokens.create("ops").token
        watched = engine.orders.place("alice", "pizza-palace", ["margherita:2", "cola"], ADDRESS).id
        engine.store.accept(watched, "pizza-palace")
    proc, url = start_server(db, folder)
    try:
        auth = lambda who: {"Authorization": f"Bearer {tokens[who]}"}  # noqa: E731

        def run(request: Any, **kw: Any) -> dict[str, Any]:
            asyncio.run(load(url, args.clients, 1.0, request))  # warm-up
            return asyncio.run(load(url, args.clients, args.seconds, request, **kw))

        post = lambda c, i: c.post("/orders", json=ORDER_BODY, headers=auth(CUSTOMERS[i % 5]))  # noqa: E731
        rows = {
            "bare route (GET /bench/constant)": run(lambda c, i: c.get("/bench/constant")),
            "GET /statusChecks/{id}": run(lambda c, i: c.get(f"/statusChecks/{watched}", headers=auth("alice"))),
            "GET /healthz (async, no thread pool)": run(lambda c, i: c.get("/healthz")),
            "POST /orders": run(post, count=args.orders),
            "POST /orders, 1 client": asyncio.run(load(url, 1, 0, post, count=args.place_samples)),
        }
        sse = sse_propagation(url, db, ops, args.sse_orders)
    finally:
        proc.terminate()
        proc.wait(30)
    rows[f"engine.orders.place in process, {args.clients} threads"] = place = in_process_place(db, args.orders, args.clients)
    rows["engine.orders.place in process, 1 caller"] = place_one = in_process_place(db, args.place_samples, 1)
    bare, status, orders, orders_one = rows["bare route (GET /bench/constant)"], rows["GET /statusChecks/{id}"], rows["POST /orders"], rows["POST /orders, 1 client"]
    return {
        "rows": rows, "sse_propagation": sse, "status_vs_bare": round(status["rps"] / bare["rps"], 2),
        "post_p50_vs_in_process": round(orders["p50_ms"] / place["p50_ms"], 2), "post_p50_vs_in_process_1": round(orders_one["p50_ms"] / place_one["p50_ms"], 2),
        "targets_met": {
            "statusChecks req/s >= 0.5 x bare route": status["rps"] >= 0.5 * bare["rps"],
            f"POST /orders p50 <= 2 x in-process p50 ({args.clients} concurrent callers each)": orders["p50_ms"] <= 2 * place["p50_ms"],
            "POST /orders p50 <= 2 x in-process p50 (1 caller each)": orders_one["p50_ms"] <= 2 * place_one["p50_ms"],
        },
    }


def show(backend: str, result: dict[str, Any], args: Any) -> None:
    rows = [{"what": name, **r, "errors": ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "-"} for name, r in result["rows"].items()]
    m.print_table(rows, [("what", "what"), ("requests", "requests"), ("rps", "req/s"), ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("errors", "non-2xx")],
                  title=f"{backend}: {args.clients} concurrent clients, {args.seconds:g} s per route")
    sse = result["sse_propagation"]
    print(f"\n/events: a commit by another process reached the stream in p50 {sse['p50_ms']:.0f} ms, p99 {sse['p99_ms']:.0f} ms, "
          f"max {sse['max_ms']:.0f} ms ({sse['received']}/{sse['sent']} orders; poll every 0.2 s)")
    print(f"statusChecks / bare route (req/s): {result['status_vs_bare']} (target >= 0.5); POST /orders p50 / in-process p50: "
          f"{result['post_p50_vs_in_process']} with {args.clients} concurrent callers, {result['post_p50_vs_in_process_1']} with one (target <= 2)")
    for target, met in result["targets_met"].items():
        print(f"  {'met' if met else 'MISSED'}: {target}")


def main() -> None:
    parser = m.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--orders", type=int, default=300, help="POST /orders requests in all")
    parser.add_argument("--place-samples", type=int, default=200)
    parser.add_argument("--sse-orders", type=int, default=40)
    parser.add_argument("--pg-url", default=os.environ.get(m.PG_ENV), help=f"also on PostgreSQL (default ${m.PG_ENV}; empty: skip)")
    args = parser.parse_args()
    info = m.machine_info(args.pg_url)
    results: dict[str, Any] = {"machine": info}
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        results["sqlite"] = bench(str(folder / "bench.db"), folder, args)
        if args.pg_url:
            import uuid

            import psycopg

            schema = f"bench_http_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(m.libpq_url(args.pg_url), autocommit=True) as admin:
                admin.execute(f'CREATE SCHEMA "{schema}"')
                try:
                    results["postgresql"] = bench(m.with_search_path(args.pg_url, schema), folder, args)
                finally:
                    admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    if args.json:
        m.emit_json(results)
        return
    m.print_machine(info)
    for backend in ("sqlite", "postgresql"):
        if backend in results:
            show(backend, results[backend], args)


if __name__ == "__main__":
    main()
