"""The worker: a long-running process that drains every subscriber, fires what is due and runs the
extra jobs it is given (e.g. the webhook dispatcher), so sagas settle and deadlines fire on time
even when no command is running.

Wake-ups: on PostgreSQL the worker LISTENs on the event log's channel (every append NOTIFYs in its
own transaction, so the notification arrives at COMMIT) and polls as a fallback; on SQLite it
polls the log's head (one index lookup). Several workers share the work on PostgreSQL: each drains
its share of the subscribers (engine/shares.py), and a drain skips a subscriber another process
(a command) is draining (``MessageBus.skip_busy``). On SQLite, which has
one writer, one worker drains at a time; the others wait on standby (a lock file beside the
database), so adding workers never makes it slower.

Each worker registers itself (``workers`` table), beats every ``beat_interval_s`` on the engine's
clock, and deregisters on a clean exit. Stopping (``stop`` set, e.g. by SIGTERM) finishes the batch
in flight first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import workers
from .errors import DatabaseUnavailable
from .shares import SubscriberShares, libpq_connect
from .views import CatchUp, WorkerBatch, WorkerRun

if TYPE_CHECKING:
    from .bootstrap import Engine

log = logging.getLogger(__name__)

Job = Callable[[], int]  # runs once, returns the work it did (0: nothing to do)

SQLITE_POLL_S = 0.05  # SQLite: how often to look at the log's head (one max(id) lookup)
POSTGRES_POLL_S = 1.0  # PostgreSQL: the fallback poll when no notification arrives
CATCH_UP_EVERY_S = 1.0  # a full catch-up (due timers, interrupted payments) at least this often, new events or not
BEAT_INTERVAL_S = 5.0
STANDBY_POLL_S = 1.0  # SQLite: how often a standby worker tries to take over (it reads nothing meanwhile)
BUSY_BACKOFF_S = 0.02  # PostgreSQL: after a batch that found every subscriber with work drained by another process
MIN_ROUND_S = 0.1  # under steady load, the least time between two drain rounds: larger batches, less CPU per event (docs/benchmarks.md §12)
RETRY_AFTER_S = 2.0  # after the database failed a batch (locked, unreachable)
WAIT_SLICE_S = 0.25  # the longest a wait goes without looking at the stop flag


class Wakeups:
    """Waits for new events: ``wait(timeout)`` returns True when there may be some."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._head = -1
        self._listener: Any = None
        if engine.db.dialect.name == "postgresql":
            self._listener = _listen(engine)

    def wait(self, timeout: float, wanted: set[str] | None = None) -> bool:
        """Wait up to ``timeout`` s; on PostgreSQL only a commit appending one of the ``wanted`` event
        types (None: any) wakes it (the NOTIFY's payload names them)."""
        if self._listener is not None:
            try:
                return self._hear(timeout, wanted)
            except Exception:  # noqa: BLE001 - a lost connection: look for work, and listen again
                self._reconnect()
                return True
        try:
            head = self.engine.events.head()
        except DatabaseUnavailable:  # the batch says what is wrong, and waits
            return True
        if head != self._head:
            self._head = head
            return True
        self.engine.clock.sleep(timeout)
        return False

    def _hear(self, timeout: float, wanted: set[str] | None) -> bool:
        until = time.monotonic() + timeout  # the server's notifications arrive in real time
        while (left := until - time.monotonic()) > 0:
            heard = next(iter(self._listener.notifies(timeout=left, stop_after=1)), None)
            if heard is None:
                return False
            if wanted is None or not heard.payload or not wanted.isdisjoint(heard.payload.split(",")):
                for _ in self._listener.notifies(timeout=0):  # one batch covers every append committed so far
                    pass
                return True
        return False

    def _reconnect(self) -> None:
        self.close()
        with suppress(Exception):
            self._listener = _listen(self.engine)

    def close(self) -> None:
        if self._listener is not None:
            with suppress(Exception):
                self._listener.close()
            self._listener = None


def _listen(engine: Engine) -> Any:
    from .eventlog import CHANNEL_QUERY

    listener = libpq_connect(engine)
    channel = listener.execute(CHANNEL_QUERY).fetchone()[0]
    listener.execute(f'LISTEN "{channel}"')  # a name made of [a-z0-9_] (eventlog._CHANNEL_SQL)
    return listener


class DrainLease:
    """SQLite: one worker drains at a time (an exclusive lock on a file beside the database); the
    others stand by. PostgreSQL: always held (the subscribers' row locks share the work)."""

    def __init__(self, engine: Engine) -> None:
        self._file: Any = None
        self.path: Path | None = None
        if engine.db.dialect.name == "sqlite":
            self.path = Path(engine.url.database or "").with_name(Path(engine.url.database or "db").name + ".worker-lock")

    def acquire(self) -> bool:
        if self.path is None or self._file is not None:
            return True
        try:
            import fcntl
        except ImportError:  # not POSIX: every worker drains, each transaction waits its turn
            return True
        handle = open(self.path, "a+b")  # noqa: SIM115 - kept open while the lock is held
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None


@dataclass
class Worker:
    """``Worker(engine).run(stop)``: drain, fire and run jobs until ``stop`` is set (or once)."""

    engine: Engine
    jobs: Sequence[Job] = ()
    poll_interval_s: float | None = None  # default: SQLITE_POLL_S or POSTGRES_POLL_S
    beat_interval_s: float = BEAT_INTERVAL_S
    on_batch: Callable[[WorkerBatch], None] | None = None
    id: str = field(default_factory=workers.new_id)
    state: str = "starting"
    batches: int = 0
    applied: int = 0
    jobs_done: int = 0
    _last_beat: float = field(default=-1e18, repr=False)
    _doing: set[str] = field(default_factory=set, repr=False)
    _batch_drained: dict[str, int] = field(default_factory=dict, repr=False)
    _last_catch_up: float = field(default=-1e18, repr=False)
    _shares: SubscriberShares | None = field(default=None, repr=False)
    _wanted: set[str] | None = field(default=None, repr=False)  # event types worth waking for (None: any)

    def __post_init__(self) -> None:
        self.clock = self.engine.clock
        if self.poll_interval_s is None:
            self.poll_interval_s = POSTGRES_POLL_S if self.engine.db.dialect.name == "postgresql" else SQLITE_POLL_S

    def run(self, stop: threading.Event | None = None, *, once: bool = False) -> WorkerRun:
        stop = stop or threading.Event()
        started = self.clock.now()
        self.engine.bus.skip_busy = True  # share the subscribers with other workers instead of queueing
        self.engine.bus.min_round_s, self.engine.bus.stop = MIN_ROUND_S, stop  # under steady load: paced rounds, and a stop ends the drain
        self.engine.bus.after_batch = self._drained  # a drain under steady load may last long: beat meanwhile
        lease, wakeups = DrainLease(self.engine), Wakeups(self.engine)
        if self.engine.db.dialect.name == "postgresql" and not once:  # --once drains everything
            self._shares = SubscriberShares(self.engine, [s.name for s in self.engine.bus.subscribers])
        with self.engine.write() as conn:
            workers.register(conn, self.id, started, self.beat_interval_s)
        stopped_by = "once" if once else "stop"
        try:
            while not stop.is_set():
                if not once and not lease.acquire():  # --once drains anyway: SQLite makes it wait its turn
                    self.state = "standby"
                    self._pause(stop, STANDBY_POLL_S)
                    continue
                try:
                    did = self.batch()
                except DatabaseUnavailable as exc:  # locked too long, unreachable, full: say so, wait, try again
                    if once:
                        raise
                    log.warning("worker %s: %s; trying again", self.id, exc.message)
                    self.state = "waiting"
                    self._pause(stop, RETRY_AFTER_S)
                    continue
                if once:
                    if did:
                        continue  # until nothing is left
                    break
                if not did:
                    self.state = "idle"
                    if self.engine.bus.skipped:  # others drain what is left: let their batches run before looking again
                        self._pause(stop, BUSY_BACKOFF_S)
                    self._wait(stop, wakeups, self.poll_interval_s or POSTGRES_POLL_S)
        finally:
            self.state = "stopping"
            lease.release()
            wakeups.close()
            if self._shares is not None:
                self._shares.close()
                self._share(None)
            with suppress(Exception), self.engine.write() as conn:  # a database gone: the row goes stale, doctor says so
                workers.deregister(conn, self.id)
        return WorkerRun(id=self.id, started_at=started, stopped_at=self.clock.now(), batches=self.batches,
                         events_applied=self.applied, jobs_done=self.jobs_done, stopped_by=stopped_by)

    def batch(self) -> int:
        """Drain every subscriber -- with a full catch-up (what is due, interrupted payments) at least
        every ``CATCH_UP_EVERY_S`` -- and run each job once; returns the work done."""
        self._batch_drained = {}
        self.engine.bus.skipped.clear()
        self.state = "draining"
        self._beat_if_due()
        if self.clock.monotonic() - self._last_catch_up >= CATCH_UP_EVERY_S:  # due timers, interrupted payments too
            if self._shares is not None:  # workers come and go: take this one's fair share of the subscribers
                self._share(self._shares.rebalance())
            caught = self.engine.catch_up()
            self._last_catch_up = self.clock.monotonic()
        else:  # woken by new events: draining them is all there is to do (a catch-up's other queries wait their second)
            caught = CatchUp(payments_resolved=[], events_applied=self.engine.bus.drain())
        done = 0
        for job in self.jobs:
            try:
                done += job()
            except Exception:  # noqa: BLE001 - a failing job must not stop the draining; it says why itself
                log.exception("worker job %r failed", job)
        drained = self._batch_drained
        self.jobs_done += done
        if not caught.events_applied and not done and not caught.payments_resolved and not caught.payments_reconciled:
            return 0
        self.batches += 1
        if done:
            self._doing.add("jobs")
        self._beat_if_due()
        if self.on_batch is not None:
            self.on_batch(WorkerBatch(id=self.id, at=self.clock.now(), events_applied=caught.events_applied,
                                      subscribers=drained, jobs_done=done, payments_resolved=len(caught.payments_resolved)))
        return caught.events_applied + done + 1

    def _wait(self, stop: threading.Event, wakeups: Wakeups, interval: float, catch_up_due: bool = True) -> None:
        """Until there may be new events, a full catch-up is due (``catch_up_due``), or ``stop``; beating meanwhile."""
        until = self.clock.monotonic() + interval
        while not stop.is_set():
            self._beat_if_due()
            now = self.clock.monotonic()
            left = min(until - now, self._last_catch_up + CATCH_UP_EVERY_S - now) if catch_up_due else until - now
            if left <= 0 or wakeups.wait(min(left, WAIT_SLICE_S), self._wanted):
                return

    def _share(self, share: set[str] | None) -> None:
        """Drain only ``share`` (None: every subscriber), and wake only for the event types it handles."""
        self.engine.bus.share = share
        self._wanted = None if share is None else {t for s in self.engine.bus.subscribers if s.name in share for t in s.handlers}

    def _pause(self, stop: threading.Event, seconds: float) -> None:
        until = self.clock.monotonic() + seconds
        while not stop.is_set() and (left := until - self.clock.monotonic()) > 0:
            self._beat_if_due()
            self.clock.sleep(min(left, WAIT_SLICE_S))

    def _drained(self, subscriber: str, count: int) -> None:
        self._batch_drained[subscriber] = self._batch_drained.get(subscriber, 0) + count
        self._doing.add(subscriber)
        self.applied += count
        self._beat_if_due()

    def _beat_if_due(self) -> None:
        if self.clock.monotonic() - self._last_beat >= self.beat_interval_s:
            self.beat()

    def beat(self) -> None:
        """Record that this worker is alive, its state, and what it drained since the last beat."""
        self._last_beat = self.clock.monotonic()
        doing, self._doing = ", ".join(sorted(self._doing)), set()
        try:
            with self.engine.write() as conn:
                if not workers.beat(conn, self.id, self.clock.now(), self.state, doing, self.applied):
                    workers.register(conn, self.id, self.clock.now(), self.beat_interval_s)  # forgotten while paused: back on the list
        except DatabaseUnavailable as exc:  # a missed beat is not worth stopping for: the next one says it is alive
            log.warning("worker %s could not beat: %s", self.id, exc.message)
