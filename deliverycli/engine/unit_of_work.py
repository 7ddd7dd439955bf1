"""A unit of work: one database transaction that commits state changes together with their events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from . import eventlog
from .errors import DatabaseUnavailable
from .events import Event
from .storage import first_line, utcnow


class RecordsEvents(Protocol):
    events: list[Event]


class UnitOfWork:
    """Use as ``with UnitOfWork(engine, actor) as uow: ...; uow.commit()``; leaving without commit rolls back."""

    def __init__(self, engine: sa.Engine, actor: str) -> None:
        self.engine = engine
        self.actor = actor
        self.now: datetime = utcnow()
        self._pending: list[tuple[Event, str]] = []
        self.committed: list[Event] = []
        self.conn: sa.Connection

    def __enter__(self) -> UnitOfWork:
        self.now = utcnow()
        self.conn = self.engine.connect()
        try:
            self._tx = self.conn.begin()
        except BaseException:
            self.conn.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self.conn.close()

    def record(self, event: Event, actor: str | None = None) -> None:
        self._pending.append((event, actor or self.actor))

    def collect(self, aggregate: RecordsEvents) -> None:
        """Take the events an aggregate recorded, to be appended when this unit commits."""
        for event in aggregate.events:
            self.record(event)
        aggregate.events.clear()

    def commit(self) -> None:
        eventlog.append(self.conn, self._pending, self.now)
        self._tx.commit()
        self.committed = [event for event, _ in self._pending]
        self._pending = []


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn driver errors a user can meet (locked, unreachable) into a clear domain error."""
    try:
        yield
    except sa.exc.OperationalError as exc:
        text = first_line(exc)
        if "locked" in text or "busy" in text or "lock timeout" in text:  # SQLite; PostgreSQL's lock_timeout
            raise DatabaseUnavailable(
                f"the database is busy: another process held its write lock longer than the busy timeout ({text})"
            ) from exc
        raise DatabaseUnavailable(f"database error: {text}") from exc
