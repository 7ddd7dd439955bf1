"""Webhook deliveries/s: events `deliverycli webhooks deliver` sends to a local receiver, against raw
httpx posting the same signed bytes to the same receiver in the same run.

    python benchmarks/bench_webhooks.py [--orders 100] [--endpoints 1] [--pg-url URL] [--json]

The log is a real one: `simulate --orders N` on a fresh SQLite file (or a fresh PostgreSQL schema
with --pg-url). The sender is the real ``WebhookDispatcher`` (what `webhooks deliver --once` runs:
one event at a time per endpoint, each attempt recorded and the position moved after each 2xx),
timed from its first pass to the last event delivered. The receiver is a separate process (Python's
``http.server``, HTTP/1.1 keep-alive) that answers 204 at once. The baseline posts the very bodies
with the same three Standard Webhooks headers (signed in the loop) with one ``httpx.Client``, one
request at a time: what the sender adds is its database work (read the batch, record each attempt,
move the position).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402

RECEIVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def build_log(db: str, orders: int, seed: int) -> int:
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.engine.simulation import SimulationOptions, simulate

    Engine.initialise(m.settings_for(db))[0].close()
    simulate(m.settings_for(db), SimulationOptions(orders=orders, seed=seed))
    with Engine.open(m.settings_for(db), catch_up=False) as engine:
        return engine.events.head()


def run_sender(db: str, url: str, endpoints: int) -> dict[str, Any]:
    """Webhooks added before the log was written would see it all: add them, then move their positions to 0."""
    import sqlalchemy as sa

    from deliverycli.engine import eventlog
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.integrations.webhooks import WebhookDispatcher

    with Engine.open(m.settings_for(db), catch_up=False) as engine:
        for _ in range(endpoints):
            engine.webhooks.add(url)
        with engine.write() as conn:
            conn.execute(eventlog.tracking.update().where(eventlog.tracking.c.subscriber.like("webhook:%")).values(position=0))
        with WebhookDispatcher(engine, batch_size=500) as dispatcher:
            started = time.perf_counter()
            while dispatcher.run_once():
                pass
            wall = time.perf_counter() - started
            stats = dispatcher.stats.as_dict()
        with engine.read() as conn:
            attempts = conn.execute(sa.text("SELECT COUNT(*) FROM webhook_deliveries")).scalar_one()
    assert stats["failed_attempts"] == 0 and stats["delivered"] == attempts, stats
    return {"events": stats["delivered"], "wall_s": round(wall, 3), "events_per_s": round(stats["delivered"] / wall, 1)}


def run_raw(db: str, url: str) -> dict[str, Any]:
    import httpx

    from deliverycli.engine import eventlog
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.engine.views import EventView
    from deliverycli.engine.webhooks import new_secret, secret_key
    from deliverycli.integrations.webhooks import sign

    with Engine.open(m.settings_for(db), catch_up=False) as engine, engine.read() as conn:
        bodies = [(e.id, EventView.json_bytes(e)) for e in eventlog.read(conn, 0, limit=10**9)]
    key = secret_key(new_secret())
    with httpx.Client(timeout=10, headers={"content-type": "application/json"}) as client:
        started = time.perf_counter()
        for event_id, body in bodies:
            timestamp = int(time.time())
            headers = {"webhook-id": str(event_id), "webhook-timestamp": str(timestamp), "webhook-signature": sign(key, str(event_id), timestamp, body)}
            client.post(url, content=body, headers=headers).raise_for_status()
        wall = time.perf_counter() - started
    return {"events": len(bodies), "wall_s": round(wall, 3), "events_per_s": round(len(bodies) / wall, 1)}


def main() -> None:
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100, help="lifecycles simulated to fill the log (default 100)")
    parser.add_argument("--endpoints", type=int, default=1, help="webhooks, each sent every event, side by side (default 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", help="keep the log on PostgreSQL instead (a fresh schema, dropped afterwards)")
    args = parser.parse_args()
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info(args.pg_url)
        schema = f"bench_webhooks_{os.getpid()}"
        if args.pg_url:
            import psycopg

            with psycopg.connect(m.libpq_url(args.pg_url), autocommit=True) as admin:
                admin.execute(f'CREATE SCHEMA "{schema}"')
            db = m.with_search_path(args.pg_url, schema)
        else:
            db = str(folder / "webhooks.db")
        receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
        try:
            url = f"http://127.0.0.1:{int(receiver.stdout.readline())}/hook"
            events = build_log(db, args.orders, args.seed)
            raw = run_raw(db, url)
            sender = run_sender(db, url, args.endpoints)
        finally:
            receiver.terminate()
            receiver.wait(timeout=30)
            if args.pg_url:
                with psycopg.connect(m.libpq_url(args.pg_url), autocommit=True) as admin:
                    admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        assert sender["events"] == events * args.endpoints, (sender, events)
        result = {
            "benchmark": "webhooks", "machine": info, "database": "postgresql" if args.pg_url else "sqlite", "orders": args.orders,
            "events": events, "endpoints": args.endpoints, "sender": sender, "raw_httpx_one_at_a_time": raw,
            "sender_vs_raw": round(sender["events_per_s"] / raw["events_per_s"], 2),
        }
        if args.json:
            m.emit_json(result)
            return
        print(f"Webhook deliveries: the event log ({events:,} events from {args.orders} simulated orders) to {args.endpoints} local endpoint(s)")
        m.print_machine(info)
        rows = [
            {"what": f"deliverycli webhooks deliver ({result['database']} log, {args.endpoints} endpoint(s))"} | sender,
            {"what": "raw httpx, same signed bytes, one at a time"} | raw,
        ]
        m.print_table(rows, [("what", "what"), ("events", "events"), ("wall_s", "wall s"), ("events_per_s", "events/s")])
        print(f"\nsender / raw = {result['sender_vs_raw']}")


if __name__ == "__main__":
    main()
