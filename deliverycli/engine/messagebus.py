"""The message bus: runs commands, then drains the event log into every subscriber until settled.

Each subscriber processes events in a transaction that also moves its tracking position, so an
event takes effect exactly once even if the process dies at any instant. A subscriber whose
handler keeps failing is retried with backoff and then parked as a dead letter; the others go on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from . import eventlog
from .clock import SYSTEM_CLOCK, Clock
from .errors import ConcurrencyConflict, Conflict, DatabaseUnavailable, unavailable_database
from .events import StoredEvent
from .unit_of_work import CommitHook, Connections, UnitOfWork, database_errors

log = logging.getLogger(__name__)

EventHandler = Callable[[StoredEvent, UnitOfWork], None]
BatchHandler = Callable[[list[StoredEvent], UnitOfWork], None]
UnitOfWorkFactory = Callable[[str], UnitOfWork]  # actor -> a new unit of work
CommandHandler = Callable[[Any, UnitOfWorkFactory], Any]  # (command, unit_of_work) -> its result

CONFLICT_RETRIES = 20
CONTENTION = ("busy", "timeout")  # database failures that pass: another process held a lock too long
MAX_RECHECKS = 3  # looks at the database for work the window missed, without progress, before a drain returns
WORK_WINDOW = 2000  # newest events examined per look for pending work
IDLE_ADVANCE = 500  # an idle subscriber's position is moved forward once it trails by this many


_WINDOW = (
    sa.select(eventlog.events.c.id, eventlog.events.c.event_type)
    .where(eventlog.events.c.id > sa.bindparam("low"))
    .order_by(eventlog.events.c.id)
    .limit(WORK_WINDOW)
)


@dataclass(frozen=True)
class Subscriber:
    """A named follower of the event log with one handler per event type it cares about.

    ``batch``, if given, applies a whole batch at once (same effects as the handlers, fewer round
    trips); when it fails the batch is replayed event by event to find the event at fault.
    """

    name: str
    handlers: Mapping[str, EventHandler]
    batch: BatchHandler | None = None


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    backoff_s: float = 0.05
    max_backoff_s: float = 2.0

    def delay(self, attempts: int) -> float:
        return min(self.backoff_s * (2 ** (attempts - 1)), self.max_backoff_s)


class SubscriberBusy(Exception):
    """Another process holds the subscriber's tracking row: it is draining it (PostgreSQL)."""


class BatchFailed(Exception):
    """A batch handler raised: replay the batch one event at a time."""


class HandlerFailed(Exception):
    def __init__(self, event: StoredEvent, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.event = event
        self.error = error


@dataclass
class _Backoff:
    event_id: int
    attempts: int
    retry_at: float


@dataclass
class MessageBus:
    """Runs commands through their handlers and events through every subscriber.

    Command handlers are called as ``handler(command, unit_of_work)`` where ``unit_of_work(actor)``
    starts a transaction; event handlers as ``handler(event, uow)`` inside the subscriber's own.
    """

    db: sa.Engine
    subscribers: Sequence[Subscriber]
    command_handlers: Mapping[type, CommandHandler]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Clock = SYSTEM_CLOCK
    on_commit: Sequence[CommitHook] = ()  # run by every unit of work at commit (the deadlines' scheduler)
    batch_size: int = 500  # events per subscriber transaction: fewer statements; measured under 0.1 s of write lock each
    skip_busy: bool = False  # drain(): skip a subscriber another process is draining instead of waiting for it (a worker's)
    skipped: set[str] = field(default_factory=set)  # subscribers a drain left to another process (a worker clears it)
    after_batch: Callable[[str, int], None] | None = None  # (subscriber, events) after each batch that applied some: a worker's heartbeat
    stop: Any = None  # a worker's stop request (threading.Event): under steady load a drain returns after its round
    min_round_s: float = 0.0  # a worker's least time from one drain round to the next under steady load (commands: none)
    share: set[str] | None = None  # drain only these subscribers (a worker's share, engine/shares.py); None: every one
    _positions: dict[str, int] = field(default_factory=dict)
    _backoff: dict[str, _Backoff] = field(default_factory=dict)
    _deferring: int = 0

    def __post_init__(self) -> None:
        self.connections = Connections(self.db)

    def close(self) -> None:
        self.connections.close()

    @contextmanager
    def deferred_dispatch(self) -> Iterator[None]:
        """Let several commands commit before the subscribers run, then drain the backlog in batches.

        Each command still commits on its own; only the dispatch waits. Use it for bulk work whose
        commands do not depend on each other's sagas (e.g. accepting many orders).
        """
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
            if not self._deferring:
                self.drain()

    # -- commands -------------------------------------------------------------------------------

    def handle(self, command: Any, *, settle: bool = True) -> Any:
        """Run a command's handler (retrying on a concurrent change), then settle the sagas it started.

        With ``settle=False`` its events stay undelivered until the next drain, as if another
        process had committed the command (or this one had died right after the commit).
        """
        handler = self.command_handlers[type(command)]
        succeeded = False
        with database_errors():
            try:
                for attempt in range(CONFLICT_RETRIES):
                    try:
                        result = handler(command, self.unit_of_work)
                        succeeded = True
                        return result
                    except ConcurrencyConflict:
                        time.sleep(0.002 * (attempt + 1))  # real time: another process holds the row
                raise Conflict("the order kept changing under this command; try again")
            finally:
                if settle and not self._deferring:
                    self._settle(succeeded)  # also after a refusal: the command may have committed (a rejected payment)

    def _settle(self, succeeded: bool) -> None:
        """Drain after a command. If another process holds a lock the drain needs for longer than the
        busy timeout, the command's own commit still stands (its outcome, success or refusal, is what
        the caller must hear): the sagas it started are settled by the next drain, in any process.
        Any other database failure (full, damaged, gone) after a successful command is the caller's
        to hear, with what stands: the command, and its effects still pending."""
        try:
            self.drain(skip_busy=True)  # what another process (a worker) is draining, it settles: no queueing behind it
        except DatabaseUnavailable as exc:
            if not succeeded or exc.reason in CONTENTION:
                log.warning("the sagas of this command are left to the next drain: %s", exc.message)
                return
            raise DatabaseUnavailable(
                f"the command was recorded, but applying its effects failed: {exc.message}; they are applied by the next "
                "command once the database is repaired",
                reason=exc.reason, remedy=exc.remedy,
            ) from exc

    def unit_of_work(self, actor: str) -> UnitOfWork:
        """A new unit of work acting as ``actor`` (e.g. ``customer:alice``)."""
        return UnitOfWork(self.connections.connect, actor, self.clock, self.on_commit)

    def forget(self, subscriber: str | None = None) -> None:
        """Read ``subscriber``'s position (every subscriber's, by default) from the database next time,
        and drop its pending retry back-off: something else changed the tables it keeps."""
        for name in [subscriber] if subscriber else [s.name for s in self.subscribers]:
            self._positions.pop(name, None)
            self._backoff.pop(name, None)

    def drain(self, *, skip_busy: bool | None = None) -> int:
        """Process every pending event in every subscriber (of the ``share``) until nothing is left;
        returns events applied. With ``skip_busy`` (default: the bus's) a subscriber another process
        is draining right now is left to it (PostgreSQL; it looks again after its batch, so it also
        applies what was committed meanwhile) instead of waiting for its lock.
        """
        skip = self.skip_busy if skip_busy is None else skip_busy
        applied = rechecks = 0
        lingering, round_started = False, 0.0
        if not self._draining():  # a worker whose share is empty (more workers than subscribers)
            return 0
        with database_errors():
            self._load_positions()
            while True:
                due = self._subscribers_with_work(skip)
                if due and lingering and self.min_round_s:  # steady load: let events gather into fewer, larger batches
                    self.clock.sleep(max(0.0, round_started + self.min_round_s - self.clock.monotonic()))
                lingering, round_started = False, self.clock.monotonic()
                progressed = full = False
                busy: set[str] = set()
                next_retry: float | None = None
                for subscriber in due:
                    backoff = self._backoff.get(subscriber.name)
                    if backoff and backoff.retry_at > self.clock.monotonic():
                        next_retry = min(next_retry or backoff.retry_at, backoff.retry_at)
                        continue
                    try:
                        count = self._run(subscriber, skip)
                    except SubscriberBusy:
                        busy.add(subscriber.name)
                        self.skipped.add(subscriber.name)
                        continue
                    if count:
                        if self.after_batch is not None:
                            self.after_batch(subscriber.name, count)
                        applied += count
                        progressed = True
                        full = full or count >= self.batch_size
                    backoff = self._backoff.get(subscriber.name)
                    if backoff:  # it just failed: wait for its retry rather than return with the event pending
                        next_retry = min(next_retry or backoff.retry_at, backoff.retry_at)
                if progressed:
                    if self.stop is not None and self.stop.is_set():  # a worker asked to stop: the rest is the next drain's
                        return applied
                    rechecks, lingering = 0, not full
                    continue
                if next_retry is None:
                    # The window and this process's cached positions may miss work another process
                    # made (a rebuild moving a position back): ask the database before returning.
                    if rechecks < MAX_RECHECKS and set(self._pending_in_database()) - busy:
                        rechecks += 1
                        self._load_positions()
                        continue
                    return applied
                self.clock.sleep(max(0.0, next_retry - self.clock.monotonic()))

    def _subscribers_with_work(self, skip_busy: bool = False) -> list[Subscriber]:
        """Subscribers with a relevant event after their position, from one look at the newest events.

        A subscriber with nothing relevant is not run at all; its position is moved forward only
        once it trails by ``IDLE_ADVANCE`` events, in one transaction for all such subscribers.
        """
        draining = self._draining()
        low = min((self._positions.get(s.name, 0) for s in draining), default=0)
        with self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            window = conn.execute(_WINDOW, {"low": low}).all()
        if not window:
            return []
        truncated = len(window) == WORK_WINDOW
        seen = window[-1].id
        due, idle = [], []
        for subscriber in draining:
            position = self._positions.get(subscriber.name, 0)
            if any(event_id > position and event_type in subscriber.handlers for event_id, event_type in window):
                due.append(subscriber)
            elif truncated:
                due.append(subscriber)  # more events lie beyond the window (before or after it): let its batch look
            elif seen - position >= IDLE_ADVANCE:
                idle.append(subscriber)
        if idle:
            self._advance_idle(idle, seen, skip_busy)
        return due

    def _pending_in_database(self) -> list[str]:
        """Subscribers of this drain with a relevant event after the position the database holds for them."""
        with self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            return eventlog.pending(conn, {s.name: s.handlers for s in self._draining()})

    def _draining(self) -> list[Subscriber]:
        """The subscribers a drain runs: this worker's share, or every one."""
        return [s for s in self.subscribers if self.share is None or s.name in self.share]

    def _advance_idle(self, idle: list[Subscriber], to: int, skip_busy: bool = False) -> None:
        with self.db.begin() as conn:
            now = self.clock.now()
            for subscriber in idle:
                position = self._positions.get(subscriber.name, 0)
                if (eventlog.try_lock_position if skip_busy else eventlog.lock_position)(conn, subscriber.name, now) is None:
                    self._positions.pop(subscriber.name, None)  # another process is draining it
                    continue
                moved = conn.execute(
                    eventlog.tracking.update()
                    .where(eventlog.tracking.c.subscriber == subscriber.name, eventlog.tracking.c.position == position)
                    .values(position=to, updated_at=now)
                ).rowcount
                if moved:
                    self._positions[subscriber.name] = to
                else:
                    self._positions.pop(subscriber.name, None)  # another process moved it; re-read next time

    def lag(self) -> dict[str, int]:
        """Events each subscriber has yet to take effect on (events it does not handle do not count)."""
        with self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            return eventlog.lag(conn, self.handled())

    def handled(self) -> dict[str, set[str]]:
        """The event types each subscriber handles, by name."""
        return {s.name: set(s.handlers) for s in self.subscribers}

    def _load_positions(self) -> None:
        with self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            self._positions.update(eventlog.positions(conn))

    def _run(self, subscriber: Subscriber, skip_busy: bool = False) -> int:
        """One batch for one subscriber; returns how many events it took effect on (or skipped past).
        Raises ``SubscriberBusy`` when ``skip_busy`` and another process is draining it."""
        one_by_one = False
        for _ in range(CONFLICT_RETRIES):
            try:
                return self._process(subscriber, stop_before=None, one_by_one=one_by_one, skip_busy=skip_busy)
            except ConcurrencyConflict:
                self._positions.pop(subscriber.name, None)
                continue
            except BatchFailed:
                one_by_one = True
                continue
            except HandlerFailed as failure:
                return self._failed(subscriber, failure)
        return 0

    def _process(self, subscriber: Subscriber, stop_before: int | None, one_by_one: bool = False, skip_busy: bool = False) -> int:
        with self.unit_of_work(f"system:{subscriber.name}") as uow:
            locked = (eventlog.try_lock_position if skip_busy else eventlog.lock_position)(uow.conn, subscriber.name, uow.now)
            if locked is None:
                raise SubscriberBusy(subscriber.name)
            position = locked
            head = eventlog.head(uow.conn) if stop_before is None else stop_before - 1
            if head <= position:
                self._positions[subscriber.name] = position
                return 0
            batch = eventlog.read(
                uow.conn, position, upto=head, types=subscriber.handlers, limit=self.batch_size
            )
            if subscriber.batch is not None and not one_by_one and len(batch) > 1:
                try:
                    subscriber.batch(batch, uow)
                except ConcurrencyConflict:
                    raise
                except Exception as error:  # noqa: BLE001 - find the event at fault one by one
                    raise unavailable_database(error) or BatchFailed(str(error)) from error  # a database failure is not the batch's
            else:
                for event in batch:
                    try:
                        subscriber.handlers[event.event_type](event, uow)
                    except ConcurrencyConflict:
                        raise
                    except Exception as error:  # noqa: BLE001 - any handler bug must not stop the others
                        raise unavailable_database(error) or HandlerFailed(event, error) from error  # nor the handler's: not parked
            new_position = batch[-1].id if len(batch) == self.batch_size else head
            eventlog.advance(uow.conn, subscriber.name, position, new_position, uow.now)
            if subscriber.name in self._backoff:
                uow.conn.execute(
                    eventlog.subscriber_failures.delete().where(
                        eventlog.subscriber_failures.c.subscriber == subscriber.name,
                        eventlog.subscriber_failures.c.event_id <= new_position,
                    )
                )
            uow.commit()
        self._positions[subscriber.name] = new_position
        self._backoff.pop(subscriber.name, None)
        return new_position - position

    def _failed(self, subscriber: Subscriber, failure: HandlerFailed) -> int:
        """Commit the batch's good prefix, count the failure, and park the event after the last attempt."""
        event = failure.event
        applied = self._process(subscriber, stop_before=event.id, one_by_one=True) if event.id > 1 else 0
        log.warning("subscriber %s failed on event %s: %s", subscriber.name, event.id, failure)
        attempts = self._count_failure(subscriber.name, event, str(failure))
        if attempts >= self.retry.max_attempts:
            self._park(subscriber.name, event, str(failure), attempts)
            self._backoff.pop(subscriber.name, None)
            return applied + 1
        self._backoff[subscriber.name] = _Backoff(event.id, attempts, self.clock.monotonic() + self.retry.delay(attempts))
        return applied

    def _count_failure(self, subscriber: str, event: StoredEvent, error: str) -> int:
        with self.db.begin() as conn:
            return eventlog.count_failure(conn, subscriber, event.id, error, self.clock.now())

    def _park(self, subscriber: str, event: StoredEvent, error: str, attempts: int) -> None:
        """Move the event to the dead letters and the subscriber past it, in one transaction."""
        with self.unit_of_work(f"system:{subscriber}") as uow:
            position = eventlog.lock_position(uow.conn, subscriber, uow.now)
            if position >= event.id:
                return  # another process parked or processed it meanwhile
            eventlog.park(uow.conn, subscriber, event, error, attempts, uow.now)
            eventlog.advance(uow.conn, subscriber, position, event.id, uow.now)
            uow.commit()
        self._positions[subscriber] = event.id
        log.error("subscriber %s parked event %s as a dead letter after %s attempts", subscriber, event.id, attempts)
