"""The payment circuit breaker's shared state: one row per breaker, so every process (CLI, console,
workers) opens and closes the same breaker. Reading it needs no breaker library."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from ..storage import UTCDateTime, metadata
from ..views import Breaker

NAME = "payment-gateway"
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"  # pybreaker's state names

circuit_breakers = sa.Table(
    "circuit_breakers",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("fail_counter", sa.Integer, nullable=False),
    sa.Column("success_counter", sa.Integer, nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=True),
)

READ = sa.select(circuit_breakers).where(circuit_breakers.c.name == sa.bindparam("name"))


def read(conn: sa.Connection, name: str = NAME) -> sa.Row | None:
    """The breaker's row (None until it first failed)."""
    return conn.execute(READ, {"name": name}).first()


def describe(row: sa.Row | None, fail_max: int, reset_timeout_s: float) -> Breaker:
    """The breaker as people see it: its state, failures so far, and when an open one tries again."""
    opened_at: datetime | None = row.opened_at if row else None
    state = row.state if row else CLOSED
    retry_at = opened_at + timedelta(seconds=reset_timeout_s) if opened_at and state == OPEN else None
    return Breaker(
        state=state, fail_counter=row.fail_counter if row else 0, fail_max=fail_max, reset_timeout_s=reset_timeout_s,
        opened_at=opened_at, half_open_at=retry_at,
    )
