"""Relay throughput: events/s that `deliverycli relay` moves from the event log to NATS JetStream,
against raw nats-py publishing the same payloads to the same server in the same run.

    python benchmarks/bench_relay.py [--orders 500] [--nats URL] [--pg-url URL] [--json]

The log is a real one: `simulate --orders N` on a fresh SQLite file (or a fresh PostgreSQL schema
with --pg-url). The relay is the real ``NatsRelay`` (what `deliverycli relay --once` runs), timed
from connecting to the last recorded position, database reads and tracking writes included; the
stream is fresh. The baselines publish the very bytes the relay sent (same subjects, same
Nats-Msg-Id headers) to another fresh stream with plain nats-py: one `js.publish` at a time (each
awaiting its ack), and pipelined with `js.publish_async` in batches of the relay's size. Every
stream is deleted afterwards. Needs the `nats` extra and a NATS server with JetStream.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402

NATS_ENV = "DELIVERYCLI_TEST_NATS_URL"


def nats_answers(url: str) -> bool:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=2) as sock:
            return sock.recv(4) == b"INFO"
    except OSError:
        return False


def build_log(db: str, orders: int, seed: int) -> int:
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.engine.simulation import SimulationOptions, simulate

    Engine.initialise(m.settings_for(db))[0].close()
    simulate(m.settings_for(db), SimulationOptions(orders=orders, seed=seed))
    with Engine.open(m.settings_for(db), catch_up=False) as engine:
        return engine.events.head()


async def run_relay(db: str, nats_url: str, stream: str, prefix: str, batch: int) -> dict[str, Any]:
    from deliverycli.engine import storage
    from deliverycli.integrations.nats_relay import NatsRelay

    eng = storage.make_engine(storage.database_url(db))
    try:
        relay = NatsRelay(eng, nats_url, stream, prefix, batch_size=batch, give_up_after=1)
        started = time.perf_counter()
        result = await relay.run(asyncio.Event(), once=True)
        wall = time.perf_counter() - started
    finally:
        eng.dispose()
    return {"events": result.relayed, "wall_s": round(wall, 3), "events_per_s": round(result.relayed / wall, 1)}


async def read_payloads(nats_url: str, stream: str) -> list[tuple[str, dict[str, str], bytes]]:
    """What the relay put in ``stream``, to publish again by hand."""
    import nats

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(stream)).state.last_seq
        out = []
        for seq in range(1, last + 1):
            msg = await js.get_msg(stream, seq=seq)
            out.append((msg.subject, {"Nats-Msg-Id": msg.headers["Nats-Msg-Id"]}, msg.data))
        return out
    finally:
        await nc.close()


async def raw_publish(nats_url: str, payloads: list[tuple[str, dict[str, str], bytes]], prefix: str, pipelined: bool, batch: int) -> dict[str, Any]:
    import nats

    stream = f"BENCHRAW{uuid.uuid4().hex[:8].upper()}"
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream(timeout=30)
        await js.add_stream(name=stream, subjects=[f"{prefix}-raw.>"])
        relabelled = [(f"{prefix}-raw." + subject.split(".", 1)[1], dict(headers), data) for subject, headers, data in payloads]
        started = time.perf_counter()
        if pipelined:
            for i in range(0, len(relabelled), batch):
                acks = [await js.publish_async(s, d, headers=h) for s, h, d in relabelled[i : i + batch]]
                await asyncio.gather(*acks)
        else:
            for s, h, d in relabelled:
                await js.publish(s, d, headers=h)
        wall = time.perf_counter() - started
        stored = (await js.stream_info(stream)).state.messages
        await js.delete_stream(stream)
    finally:
        await nc.close()
    assert stored == len(payloads), (stored, len(payloads))
    return {"events": len(payloads), "wall_s": round(wall, 3), "events_per_s": round(len(payloads) / wall, 1)}


async def delete_stream(nats_url: str, stream: str) -> None:
    import nats

    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def main() -> None:
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500, help="lifecycles simulated to fill the log (default 500)")
    parser.add_argument("--batch", type=int, default=500, help="the relay's --batch (default 500, as the command's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nats", default=os.environ.get(NATS_ENV, "nats://127.0.0.1:4222"), help=f"NATS server (default ${NATS_ENV} or nats://127.0.0.1:4222)")
    parser.add_argument("--pg-url", help="keep the log on PostgreSQL instead (a fresh schema, dropped afterwards)")
    args = parser.parse_args()
    if not nats_answers(args.nats):
        print(f"bench_relay: skipped, no NATS server answers at {args.nats} (pass --nats URL)")
        return
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info(args.pg_url)
        schema = f"bench_relay_{os.getpid()}"
        if args.pg_url:
            import psycopg

            with psycopg.connect(m.libpq_url(args.pg_url), autocommit=True) as admin:
                admin.execute(f'CREATE SCHEMA "{schema}"')
            db = m.with_search_path(args.pg_url, schema)
        else:
            db = str(folder / "relay.db")
        tag = uuid.uuid4().hex[:8]
        stream, prefix = f"BENCHRELAY{tag.upper()}", f"bench{tag}"
        try:
            events = build_log(db, args.orders, args.seed)
            relay = asyncio.run(run_relay(db, args.nats, stream, prefix, args.batch))
            assert relay["events"] == events, (relay, events)
            payloads = asyncio.run(read_payloads(args.nats, stream))
            one_by_one = asyncio.run(raw_publish(args.nats, payloads, prefix, pipelined=False, batch=args.batch))
            pipelined = asyncio.run(raw_publish(args.nats, payloads, prefix, pipelined=True, batch=args.batch))
        finally:
            try:
                asyncio.run(delete_stream(args.nats, stream))
            except Exception:  # noqa: BLE001 - never created (an early failure)
                pass
            if args.pg_url:
                with psycopg.connect(m.libpq_url(args.pg_url), autocommit=True) as admin:
                    admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        result = {
            "benchmark": "relay", "machine": info, "database": "postgresql" if args.pg_url else "sqlite", "nats": args.nats,
            "orders": args.orders, "events": events, "batch": args.batch, "relay": relay,
            "raw_publish_await_each": one_by_one, "raw_publish_async_pipelined": pipelined,
            "relay_vs_raw_pipelined": round(relay["events_per_s"] / pipelined["events_per_s"], 2),
            "relay_vs_raw_await_each": round(relay["events_per_s"] / one_by_one["events_per_s"], 2),
        }
        if args.json:
            m.emit_json(result)
            return
        print(f"Relay throughput: the event log ({events:,} events from {args.orders} simulated orders) to NATS JetStream at {args.nats}")
        m.print_machine(info)
        rows = [
            {"what": f"deliverycli relay ({result['database']} log -> stream, batch {args.batch})"} | relay,
            {"what": f"raw nats-py publish_async, same bytes, batches of {args.batch}"} | pipelined,
            {"what": "raw nats-py publish, same bytes, one ack at a time"} | one_by_one,
        ]
        m.print_table(rows, [("what", "what"), ("events", "events"), ("wall_s", "wall s"), ("events_per_s", "events/s")])
        print(f"\nrelay / raw pipelined = {result['relay_vs_raw_pipelined']}; relay / raw one-at-a-time = {result['relay_vs_raw_await_each']}")


if __name__ == "__main__":
    main()
