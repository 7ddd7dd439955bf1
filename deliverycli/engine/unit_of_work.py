"""A unit of work: one database transaction that commits state changes together with their events."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager as ContextManager
from contextlib import ExitStack, contextmanager
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from . import counters, eventlog
from .clock import SYSTEM_CLOCK, Clock
from .errors import unavailable_database

if TYPE_CHECKING:
    from .events import Event
    from .catalog import CatalogReader
    from .delivery import DeliveryRepository
    from .ordering.repository import OrderRepository
    from .payment.records import PaymentRecords
    from .store import TicketRepository


class CommitHook(Protocol):
    """Called by ``commit`` after the unit's events are appended, in the same transaction."""

    def __call__(self, uow: UnitOfWork, records: Sequence[tuple[Event, str]], /) -> None: ...


class RecordsEvents(Protocol):
    events: list[Event]


class Connections:
    """Where units of work get their connection.

    On SQLite one connection is kept open between units of work: checking a connection out of the
    pool and back costs more than SQLite takes for the transaction itself. A unit of work nested in
    another, or running on another thread meanwhile, gets its own from the pool, as on PostgreSQL
    (whose pool also checks that a connection is still alive).
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._keep = engine.dialect.name == "sqlite"
        self._kept: sa.Connection | None = None
        self._free = threading.Lock()

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        if not self._keep or not self._free.acquire(blocking=False):
            with self.engine.connect() as conn:
                yield conn
            return
        try:
            if self._kept is None or self._kept.closed or self._kept.invalidated:
                self._kept = self.engine.connect()
            kept = self._kept
            try:
                yield kept
            finally:
                if _left_dirty(kept):
                    self._discard()
        finally:
            self._free.release()

    def _discard(self) -> None:
        """Drop the kept connection: closing the driver's connection rolls back whatever it held."""
        kept, self._kept = self._kept, None
        if kept is not None:
            try:
                kept.invalidate()
            finally:
                kept.close()

    def close(self) -> None:
        with self._free:
            if self._kept is not None:
                self._kept.close()
                self._kept = None


def _left_dirty(conn: sa.Connection) -> bool:
    """Whether a unit of work left a transaction behind on the connection. Only a failure does: a
    COMMIT that failed (a full disk) leaves SQLite's transaction open, holding the write lock, and
    SQLAlchemy's attached, so the next ``begin()`` would fail for as long as the connection is kept."""
    if conn.closed or conn.invalidated:
        return True
    if conn.get_transaction() is not None:
        return True
    driver = conn.connection.driver_connection
    return bool(getattr(driver, "in_transaction", False))


class UnitOfWork:
    """One transaction that commits state changes together with the events they caused.

    Use as ``with unit_of_work(actor) as uow: ...; uow.commit()``; leaving without commit rolls
    back. Each context reaches its own tables through a repository on the unit (``uow.orders``,
    ``uow.tickets``, ``uow.deliveries``, ``uow.payments``, ``uow.catalog``), created on first use;
    aggregates saved through a repository hand their recorded events to the unit, which appends them
    to the event log in the same transaction.
    """

    def __init__(
        self, connect: Callable[[], ContextManager[sa.Connection]], actor: str, clock: Clock = SYSTEM_CLOCK,
        on_commit: Sequence[CommitHook] = (),
    ) -> None:
        self.connect = connect
        self.actor = actor
        self.clock = clock
        self.on_commit = on_commit
        self.now: datetime = clock.now()
        self._pending: list[tuple[Event, str]] = []
        self._counts: dict[counters.Key, int] = {}
        self.conn: sa.Connection

    def __enter__(self) -> UnitOfWork:
        self.now = self.clock.now()
        self._release = ExitStack()
        self.conn = self._release.enter_context(self.connect())
        try:
            # On a connection already in a transaction (a timer's firing runs its command inside the
            # transaction that claimed the timer), the unit is a savepoint of it: all or nothing.
            self._tx = self.conn.begin_nested() if self.conn.in_transaction() else self.conn.begin()
        except BaseException:
            self._release.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.rollback()
        finally:
            self._release.close()

    # -- repositories (each context's tables); imported on first use so the contexts stay independent --

    @cached_property
    def orders(self) -> OrderRepository:
        from .ordering.repository import OrderRepository

        return OrderRepository(self)

    @cached_property
    def payments(self) -> PaymentRecords:
        from .payment.records import PaymentRecords

        return PaymentRecords(self)

    @cached_property
    def tickets(self) -> TicketRepository:
        from .store import TicketRepository

        return TicketRepository(self)

    @cached_property
    def deliveries(self) -> DeliveryRepository:
        from .delivery import DeliveryRepository

        return DeliveryRepository(self)

    @cached_property
    def catalog(self) -> CatalogReader:
        from .catalog import CatalogReader

        return CatalogReader(self.conn)

    # -- events and the transaction ---------------------------------------------------------------

    def record(self, event: Event, actor: str | None = None) -> None:
        """Append ``event`` (caused by ``actor``, by default this unit's) when this unit commits."""
        self._pending.append((event, actor or self.actor))

    def collect(self, aggregate: RecordsEvents) -> None:
        """Take the events an aggregate recorded, to be appended when this unit commits."""
        for event in aggregate.events:
            self.record(event)
        aggregate.events.clear()

    def count(self, key: counters.Key, delta: int) -> None:
        """Move the counter ``key`` (scope, key, status) by ``delta`` when this unit commits (``counters``)."""
        self._counts[key] = self._counts.get(key, 0) + delta

    def commit(self) -> None:
        counters.add(self.conn, self._counts)  # before the event log's lock: every writer takes them in that order
        eventlog.append(self.conn, self._pending, self.now)
        for hook in self.on_commit:  # e.g. deadlines.Scheduler: timers start and end with their events
            hook(self, self._pending)
        self._tx.commit()
        self._pending = []
        self._counts = {}

    def rollback(self) -> None:
        """Undo everything since the unit began (and forget its events and counts); a no-op once committed."""
        self._pending = []
        self._counts = {}
        if self._tx.is_active:
            self._tx.rollback()


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn driver errors a user can meet (locked, unreachable, full, read-only, damaged) into a
    clear domain error; anything else (a violated constraint, a malformed statement) is a bug and
    passes through."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        unavailable = unavailable_database(exc)
        if unavailable is None:
            raise
        raise unavailable from exc
