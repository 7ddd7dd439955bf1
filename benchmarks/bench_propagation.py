"""Cross-process propagation: this process commits an event through the engine; another process's
`deliverycli events tail --follow --json` prints it. p50/p95 of the delay; target p95 <= 250 ms.

    python benchmarks/bench_propagation.py [--samples 100] [--pg-url URL] [--json]

The follower is a real `deliverycli events tail --follow --json --limit 0` subprocess; a reader thread
here timestamps each line the moment it arrives on the pipe. Each sample is one engine command
(accept, ready, pickup, complete, confirm of a demo order, in turn) that appends exactly one event;
the delay runs from the COMMIT of that command's transaction (taken with a SQLAlchemy ``commit``
listener, i.e. just before the database commits, so it is an upper bound) to the line's arrival.
Samples are spaced by a random pause (--max-gap-ms) so they do not lock into step with the
follower's polling. The baseline printed beside it is the same follower reading a raw sqlite3
INSERT of an event row committed by this process (the follower's own floor).
"""

from __future__ import annotations

import json
import os
import queue
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402

TARGET_P95_MS = 250


class Follower:
    """`deliverycli events tail --follow --json` in a subprocess; lines are timestamped as they arrive."""

    def __init__(self, db: str) -> None:
        cmd = [*m.deliverycli_cmd(), "--db", db, "events", "tail", "--follow", "--json", "--limit", "0"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        self.lines: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            arrived = time.perf_counter()
            try:
                self.lines.put((arrived, json.loads(raw)))
            except ValueError:
                continue

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the follower printed nothing matching in time")
            arrived, event = self.lines.get(timeout=left)
            if predicate(event):
                return arrived, event

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def drain_lines(follower: Follower) -> None:
    while True:
        try:
            follower.lines.get_nowait()
        except queue.Empty:
            return


def engine_samples(db: str, follower: Follower, samples: int, max_gap_ms: int) -> list[float]:
    import sqlalchemy as sa

    from deliverycli.engine.bootstrap import Engine

    engine = Engine.open(m.settings_for(db))
    commits: list[float] = []
    sa.event.listen(engine.db, "commit", lambda conn: commits.append(time.perf_counter()))
    rider = engine.catalog.riders()[0].id
    steps = [
        ("CookingStarted", lambda oid: engine.store.accept(oid, "pizza-palace")),
        ("CookingFinished", lambda oid: engine.store.ready(oid, "pizza-palace")),
        ("DeliveryPickedUp", lambda oid: engine.deliveries.pick_up(oid, rider)),
        ("DeliveryCompleted", lambda oid: engine.deliveries.complete(oid, rider)),
        ("DeliveryConfirmed", lambda oid: engine.orders.confirm(oid, "alice")),
    ]
    delays: list[float] = []
    rng = random.Random(1)
    try:
        order_id = None
        step = len(steps)
        while len(delays) < samples:
            if step == len(steps):
                order_id = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Bench St").id
                step = 0
            time.sleep(rng.uniform(0, max_gap_ms / 1000))
            drain_lines(follower)
            event_type, action = steps[step]
            step += 1
            commits.clear()
            with engine.deferred():  # the sagas run after the measured commit, not before it
                action(order_id)
                committed = commits[0]  # the command's own transaction is the first to commit
            arrived, _ = follower.wait_for(lambda e, t=event_type, o=order_id: e.get("event_type") == t and e.get("order_id") == o)
            delays.append(arrived - committed)
    finally:
        engine.close()
    return delays


def raw_samples(db: str, follower: Follower, samples: int, max_gap_ms: int) -> list[float]:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    rng = random.Random(2)
    delays = []
    for i in range(samples):
        time.sleep(rng.uniform(0, max_gap_ms / 1000))
        drain_lines(follower)
        marker = f"raw-{i}"
        now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO events (event_type, schema_version, order_id, actor, context, occurred_at, payload)"
            " VALUES ('NotificationSent', 1, ?, 'bench', 'notification', ?, ?)",
            (marker, now, json.dumps({"order_id": marker, "status": "PAID", "recipients": [], "message": "bench"})),
        )
        committed = time.perf_counter()
        conn.execute("COMMIT")
        arrived, _ = follower.wait_for(lambda e, o=marker: e.get("order_id") == o)
        delays.append(arrived - committed)
    conn.close()
    return delays


def main() -> None:
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100, help="events measured (default 100)")
    parser.add_argument("--raw-samples", type=int, default=50, help="raw baseline events (default 50; SQLite only)")
    parser.add_argument("--max-gap-ms", type=int, default=150, help="random pause before each sample, 0..this (default 150)")
    parser.add_argument("--pg-url", help="measure on PostgreSQL instead (a fresh schema, dropped afterwards)")
    args = parser.parse_args()
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info(args.pg_url)
        schema = f"bench_propagation_{os.getpid()}"
        if args.pg_url:
            import psycopg

            with psycopg.connect(m.libpq_url(args.pg_url), autocommit=True) as admin:
                admin.execute(f'CREATE SCHEMA "{schema}"')
            db = m.with_search_path(args.pg_url, schema)
        else:
            db = str(folder / "propagation.db")
        from deliverycli.engine.bootstrap import Engine

        try:
            Engine.initialise(m.settings_for(db), demo=True)[0].close()
            follower = Follower(db)
            try:
                time.sleep(2.0)  # let it start and reach its polling loop
                if follower.proc.poll() is not None:
                    raise SystemExit(f"the follower exited: {follower.proc.stderr.read().decode()[-500:] if follower.proc.stderr else ''}")
                engine = engine_samples(db, follower, args.samples, args.max_gap_ms)
                raw = [] if args.pg_url else raw_samples(db, follower, args.raw_samples, args.max_gap_ms)
            finally:
                follower.close()
        finally:
            if args.pg_url:
                with psycopg.connect(m.libpq_url(args.pg_url), autocommit=True) as admin:
                    admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        result: dict[str, Any] = {
            "benchmark": "propagation", "machine": info, "database": "postgresql" if args.pg_url else "sqlite",
            "engine_commit_to_follower": m.summary_ms(engine), "target_p95_ms": TARGET_P95_MS,
        }
        if raw:
            result["raw_commit_to_follower"] = m.summary_ms(raw)
        if args.json:
            m.emit_json(result)
            return
        print("Cross-process propagation: engine commit here -> `deliverycli events tail --follow --json` line in another process")
        m.print_machine(info)
        rows = [{"what": "engine command commit -> follower prints it"} | result["engine_commit_to_follower"]]
        if raw:
            rows.append({"what": "raw sqlite3 event INSERT commit -> follower prints it"} | result["raw_commit_to_follower"])
        m.print_table(rows, [("what", f"{result['database']}"), ("n", "n"), ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("p99_ms", "p99 ms"), ("max_ms", "max ms")])
        p95 = result["engine_commit_to_follower"]["p95_ms"]
        print(f"\np95 {p95} ms  (target <= {TARGET_P95_MS} ms: {'met' if p95 <= TARGET_P95_MS else 'NOT met'})")


if __name__ == "__main__":
    main()
