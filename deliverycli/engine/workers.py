"""The worker registry: each running `deliverycli worker` registers itself, beats every few seconds
and deregisters on a clean exit, so `doctor` and the operations view can list the live workers and
flag the stale ones (a worker killed with SIGKILL, or a machine gone, stops beating).

A heartbeat is only information: no work is leased by it. Which worker drains a subscriber is
decided by its share (engine/shares.py, session advisory locks) and, for exactly once, the row lock
on the subscriber's tracking row (``eventlog.lock_position``); a dead worker's connection releases both.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from .storage import UTCDateTime, metadata
from .views import WorkerView

STALE_AFTER_BEATS = 3  # a worker that missed this many beats is stale
FORGET_AFTER_BEATS = 100  # a stale worker's row is removed by the next worker that starts, after this many missed beats

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("last_beat_at", UTCDateTime, nullable=False),
    sa.Column("beat_interval_s", sa.Float, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # starting, idle, draining, standby, stopping
    sa.Column("doing", sa.String(255), nullable=False),  # what it drained in its last batch, e.g. "status, notification"
    sa.Column("applied", sa.BigInteger, nullable=False),  # events applied since it started
)


def new_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def register(conn: sa.Connection, worker_id: str, now: datetime, beat_interval_s: float) -> None:
    """Record a starting worker, and forget workers that have not beaten for a long time."""
    forget_before = now - timedelta(seconds=beat_interval_s * FORGET_AFTER_BEATS)
    conn.execute(workers.delete().where(workers.c.last_beat_at < forget_before))
    conn.execute(
        workers.insert().values(
            id=worker_id, host=socket.gethostname()[:255], pid=os.getpid(), started_at=now, last_beat_at=now,
            beat_interval_s=beat_interval_s, state="starting", doing="", applied=0,
        )
    )


def beat(conn: sa.Connection, worker_id: str, now: datetime, state: str, doing: str, applied: int) -> bool:
    """Move the worker's last beat to ``now``; False when its row is gone (another worker forgot it)."""
    return bool(conn.execute(
        workers.update().where(workers.c.id == worker_id).values(last_beat_at=now, state=state, doing=doing[:255], applied=applied)
    ).rowcount)


def deregister(conn: sa.Connection, worker_id: str) -> None:
    conn.execute(workers.delete().where(workers.c.id == worker_id))


def listing(conn: sa.Connection, now: datetime) -> list[WorkerView]:
    """Every registered worker, oldest first, each with its age since the last beat and whether it is stale."""
    views = []
    for row in conn.execute(sa.select(workers).order_by(workers.c.started_at, workers.c.id)):
        silent_s = max(0.0, (now - row.last_beat_at).total_seconds())
        views.append(WorkerView(
            id=row.id, host=row.host, pid=row.pid, started_at=row.started_at, last_beat_at=row.last_beat_at,
            beat_interval_s=row.beat_interval_s, state=row.state, doing=row.doing, applied=row.applied,
            silent_s=round(silent_s, 3), stale=silent_s > row.beat_interval_s * STALE_AFTER_BEATS,
        ))
    return views


def stale_problems(listed: list[WorkerView]) -> list[str]:
    return [
        f"worker {w.id} (host {w.host}, pid {w.pid}) has not beaten for {w.silent_s:.0f} s (every {w.beat_interval_s:g} s expected): "
        "it died or hangs; its work is taken over by any other worker or command"
        for w in listed if w.stale
    ]
