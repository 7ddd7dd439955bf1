"""pybreaker's state storage in our database (the ``circuit_breakers`` table), on the engine's clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pybreaker
import sqlalchemy as sa

from ..clock import Clock
from ..storage import insert_ignore
from . import breaker
from .breaker import circuit_breakers

_UNREAD = object()


class DatabaseBreakerStorage(pybreaker.CircuitBreakerStorage):
    """Circuit-breaker state in the database, so every process shares one breaker.

    Within ``one_call()`` (one guarded call) the row is read once and kept until this storage writes
    it: pybreaker consults its storage several times per call. Times come from the engine's clock.
    """

    def __init__(self, db: sa.Engine, name: str, clock: Clock) -> None:
        super().__init__(name)
        self.db = db
        self.clock = clock
        self.key = circuit_breakers.c.name == name
        self._kept: Any = None  # None: read every time; _UNREAD: read once, then keep; (row,): kept

    @contextmanager
    def one_call(self, known: tuple[sa.Row | None] | None = None) -> Iterator[None]:
        """Keep the row for one call: ``known`` (a 1-tuple of the row the caller just read), else the first read."""
        self._kept = known if known is not None else _UNREAD
        try:
            yield
        finally:
            self._kept = None

    def _row(self) -> sa.Row | None:
        if isinstance(self._kept, tuple):
            return self._kept[0]
        with self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            row = breaker.read(conn, self.name)
        if self._kept is _UNREAD:
            self._kept = (row,)
        return row

    def read_row(self) -> sa.Row | None:
        """The stored row (kept for the current call, once read)."""
        return self._row()

    def _update(self, **values: Any) -> None:
        if self._kept is not None:
            self._kept = _UNREAD  # read again after our own write
        with self.db.begin() as conn:
            if conn.execute(circuit_breakers.update().where(self.key).values(**values)).rowcount == 0:
                row = {"name": self.name, "state": pybreaker.STATE_CLOSED, "fail_counter": 0, "success_counter": 0, "opened_at": None}
                conn.execute(insert_ignore(conn, circuit_breakers).values(**(row | values)))

    @property
    def state(self) -> str:
        row = self._row()
        return row.state if row else pybreaker.STATE_CLOSED

    @state.setter
    def state(self, state: str) -> None:
        self._update(state=state)

    def increment_counter(self) -> None:
        self._update(fail_counter=circuit_breakers.c.fail_counter + 1) if self._row() else self._update(fail_counter=1)

    def reset_counter(self) -> None:
        row = self._row()
        if row is not None and row.fail_counter:
            self._update(fail_counter=0)

    def increment_success_counter(self) -> None:
        self._update(success_counter=circuit_breakers.c.success_counter + 1) if self._row() else self._update(success_counter=1)

    def reset_success_counter(self) -> None:
        row = self._row()
        if row is not None and row.success_counter:
            self._update(success_counter=0)

    @property
    def counter(self) -> int:
        row = self._row()
        return row.fail_counter if row else 0

    @property
    def success_counter(self) -> int:
        row = self._row()
        return row.success_counter if row else 0

    @property
    def opened_at(self) -> datetime | None:
        row = self._row()
        return row.opened_at if row else None

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        # pybreaker passes its own wall-clock time; the engine's clock decides (tests move it).
        self._update(opened_at=self.clock.now())
