"""Rebuild the status view (CQRS read model: ``order_status``, ``order_timeline`` and its counters in
``status_counts``) from the event log.

Two things live here:

- ``fold_status``: the status view computed in memory from events, by the same rules the live
  subscriber applies (``lifecycle.follow``; see ``status.apply_batch``). The invariant check
  compares the tables with it.
- ``rebuild_status_view``: rewrite the two tables from the log, safely while other processes run.

How the rebuild stays correct with other processes at work
----------------------------------------------------------
The status view is owned by one subscriber, ``status``, whose tracking row says how far it has
applied the log. Every batch the live subscriber applies locks that row (``eventlog.lock_position``)
and moves it forward in the same transaction. The rebuild plays by the same rule:

- *atomic* (the default for logs of up to ``ATOMIC_LIMIT`` status events): one transaction locks
  the status tracking row, empties both tables, replays every event up to the head through
  ``status.apply_batch`` (the live subscriber's own code) in batches, and moves the position to the
  head. While it runs, no other process can apply status events (they wait for the row lock; on
  SQLite the whole database is write-locked, so keep it short: that is what the limit is for), and
  readers keep seeing the old view until the commit. It either happens entirely or not at all.
- *batched* (larger logs): one short transaction locks the tracking row, empties both tables and
  sets the position back to 0; then each batch is its own transaction that locks the row, applies
  the next events and moves the position, exactly as the live subscriber does. Another process's
  subscriber may take some of the batches: that is the same work done once, never twice, because
  each batch moves the position with a compare-and-set. If the rebuild is killed, any later drain
  (any command in any process) finishes it. While it runs, the view is incomplete: orders not yet
  replayed are missing from it.

A rebuild refuses to start while the status subscriber has unresolved dead letters, since
replaying a parked event would have to decide for the operator whether it is resolved.

Notifications are not rebuilt: they are messages already sent to people. Replaying them would send
them again (and append ``NotificationSent`` events a second time); ``rebuild`` never touches them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import counters, eventlog
from . import status as status_view
from .errors import REMEDY_RETRY_DEAD_LETTERS, ConcurrencyConflict, Conflict, DeliveryError
from .events import StoredEvent
from .lifecycle import OrderState, fold
from .unit_of_work import UnitOfWork, database_errors

if TYPE_CHECKING:
    from .messagebus import MessageBus

SUBSCRIBER = "status"
STATUS_TYPES = tuple(status_view.HANDLERS)  # every event type but NotificationSent
ATOMIC_LIMIT = 10_000  # status events replayed in one transaction at most: ~1-2 s, well under the busy timeout others wait
BATCH = 2_000
ProgressCallback = Callable[[int, int], None]


# -- the view in memory ---------------------------------------------------------------------------


@dataclass
class StatusFold:
    """The status view computed from events (the one fold, ``OrderState``): one row per order and
    one timeline entry per event, as ``status.apply_batch`` writes them."""

    states: dict[str, OrderState] = field(default_factory=dict)
    timeline: dict[int, dict[str, Any]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (order id, what is wrong)

    def apply(self, event: StoredEvent) -> None:
        """Apply one event (NotificationSent is not a status event)."""
        if event.event_type not in status_view.HANDLERS:
            return
        state, _ = fold(self.states, event)
        if state is None:
            self.errors.append((event.order_id, f"event {event.id} ({event.event_type}) names an order that was never placed"))
            return
        self.timeline[event.id] = status_view.timeline_entry(event, state)

    @property
    def rows(self) -> dict[str, dict[str, Any]]:
        """The view's rows, by order id."""
        return {order_id: status_view.row_values(state) for order_id, state in self.states.items()}


def fold_status(events: Iterable[StoredEvent]) -> StatusFold:
    view = StatusFold()
    for event in events:
        view.apply(event)
    return view


# -- the rebuild ----------------------------------------------------------------------------------


def _status_events(conn: sa.Connection, after: int, upto: int) -> int:
    return conn.execute(
        sa.select(sa.func.count())
        .select_from(eventlog.events)
        .where(eventlog.events.c.id > after, eventlog.events.c.id <= upto, eventlog.events.c.event_type.in_(STATUS_TYPES))
    ).scalar_one()


def _refuse_if_parked(conn: sa.Connection) -> None:
    table = eventlog.dead_letters
    parked = conn.execute(
        sa.select(table.c.id).where(table.c.subscriber == SUBSCRIBER, table.c.resolved_at.is_(None)).order_by(table.c.id)
    ).scalars().all()
    if parked:
        ids = ", ".join(map(str, parked[:10])) + (" ..." if len(parked) > 10 else "")
        raise Conflict(
            f"the status view has {len(parked)} parked event(s) (dead letters {ids}); retry them before rebuilding",
            remedy=REMEDY_RETRY_DEAD_LETTERS,
        )


def _clear(conn: sa.Connection) -> None:
    conn.execute(status_view.order_timeline.delete())
    conn.execute(status_view.order_status.delete())
    counters.clear(conn, counters.STATUS_VIEW_SCOPES)  # recounted as the replay writes the rows again
    conn.execute(eventlog.subscriber_failures.delete().where(eventlog.subscriber_failures.c.subscriber == SUBSCRIBER))


def _replay(uow: UnitOfWork, after: int, upto: int, batch: int) -> tuple[int, int]:
    """Apply the status events in (after, upto] inside ``uow``; returns (events applied, last id)."""
    events = eventlog.read(uow.conn, after, upto=upto, types=STATUS_TYPES, limit=batch)
    if not events:
        return 0, upto
    status_view.apply_batch(events, uow)
    return len(events), (events[-1].id if len(events) == batch else upto)


def rebuild_status_view(
    bus: MessageBus, *, progress: ProgressCallback | None = None, mode: str = "auto", batch: int = BATCH, atomic_limit: int = ATOMIC_LIMIT
) -> dict[str, Any]:
    """Rewrite ``order_status`` and ``order_timeline`` from the event log (see the module docstring).

    ``mode`` is ``atomic``, ``batched`` or ``auto`` (atomic up to ``atomic_limit`` status events).
    ``progress(done, total)`` is called after every batch. Returns what was done.
    """
    if mode not in ("auto", "atomic", "batched"):
        raise ValueError(f"unknown rebuild mode {mode!r}")
    report = progress or (lambda done, total: None)
    started = time.perf_counter()
    db, clock = bus.db, bus.clock
    with database_errors():
        with UnitOfWork(db.connect, "operator:rebuild", clock) as uow:
            _refuse_if_parked(uow.conn)
            position = eventlog.lock_position(uow.conn, SUBSCRIBER, uow.now)
            head = eventlog.head(uow.conn)
            total = _status_events(uow.conn, 0, head)
            chosen = mode if mode != "auto" else ("atomic" if total <= atomic_limit else "batched")
            _clear(uow.conn)
            report(0, total)
            done = 0
            if chosen == "atomic":
                after = 0
                while after < head:
                    try:
                        applied, after = _replay(uow, after, head, batch)
                    except DeliveryError as exc:
                        raise Conflict(f"the rebuild stopped after event {after} and changed nothing: {exc.message}") from exc
                    done += applied
                    report(done, total)
                if head != position:
                    eventlog.advance(uow.conn, SUBSCRIBER, position, head, uow.now)
                uow.commit()  # the status subscriber records no events: this appends nothing
                reached = head
            else:
                if position != 0:
                    eventlog.advance(uow.conn, SUBSCRIBER, position, 0, uow.now)
                uow.commit()
                done, reached = _batched(bus, head, total, batch, report)
        bus.forget(SUBSCRIBER)  # this process's cached position is stale now
        with db.connect() as conn, conn.execution_options(readonly=True).begin():
            orders = conn.execute(sa.select(sa.func.count()).select_from(status_view.order_status)).scalar_one()
            entries = conn.execute(sa.select(sa.func.count()).select_from(status_view.order_timeline)).scalar_one()
    return {
        "id": "status",
        "view": "status (order_status, order_timeline)",
        "mode": chosen,
        "events": total,
        "replayed_here": done,
        "position": reached,
        "orders": orders,
        "timeline_entries": entries,
        "notifications": "not rebuilt: they are messages already sent",
        "wall_time_s": round(time.perf_counter() - started, 3),
    }


def _batched(bus: MessageBus, head: int, total: int, batch: int, report: ProgressCallback) -> tuple[int, int]:
    """Replay up to ``head`` one locked batch at a time, as the live status subscriber would."""
    db = bus.db
    done = 0
    while True:
        try:
            with UnitOfWork(db.connect, "system:status", bus.clock) as uow:
                position = eventlog.lock_position(uow.conn, SUBSCRIBER, uow.now)
                if position >= head:
                    return done, position
                try:
                    applied, reached = _replay(uow, position, head, batch)
                except DeliveryError as exc:
                    raise Conflict(
                        f"the rebuild stopped after event {position}: {exc.message}; the view is incomplete until the status "
                        "subscriber gets past it (it retries, then parks the event as a dead letter)"
                    ) from exc
                eventlog.advance(uow.conn, SUBSCRIBER, position, reached, uow.now)
                uow.commit()
        except ConcurrencyConflict:
            continue  # another process's subscriber applied that batch: carry on from where it got
        done += applied
        with db.connect() as conn, conn.execution_options(readonly=True).begin():
            report(total - _status_events(conn, reached, head), total)

