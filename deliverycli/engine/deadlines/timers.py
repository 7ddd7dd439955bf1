"""The ``timers`` table, the commit hook that keeps it, and the queries that read it.

A deadline starts with an event and ends with another. ``Scheduler`` runs inside
``UnitOfWork.commit``, after the unit's events are appended and before COMMIT, so the timer row is
written (or cancelled) in the very transaction that records the event: there is no moment at which
an event exists without its timer, nor a timer outlives the event that ended it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..storage import UTCDateTime, metadata
from ..views import TimerView

if TYPE_CHECKING:
    from ..events import Event
    from ..unit_of_work import UnitOfWork

ACCEPTANCE, PICKUP, CONFIRM = "acceptance", "pickup", "confirm"
PENDING, FIRED, CANCELLED, FAILED = "pending", "fired", "cancelled", "failed"
ACTOR = "system:deadlines"

# kind -> (the event that starts it, the setting that says how long, the events that end it)
KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    ACCEPTANCE: ("StoreOrderReceived", "accept_timeout_s", ("CookingStarted", "StoreOrderRejected", "StoreOrderCancelled", "OrderCancelled")),
    PICKUP: ("DeliveryRequested", "pickup_alert_s", ("DeliveryPickedUp", "OrderCancelled")),
    CONFIRM: ("DeliveryCompleted", "confirm_timeout_s", ("DeliveryConfirmed", "OrderCancelled")),
}
STARTS = {start: kind for kind, (start, _, _) in KINDS.items()}
ENDS: dict[str, tuple[str, ...]] = defaultdict(tuple)
for _kind, (_, _, _enders) in KINDS.items():
    for _ender in _enders:
        ENDS[_ender] += (_kind,)
ENDS = dict(ENDS)

timers = sa.Table(
    "timers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by_event", sa.BigInteger, nullable=False),
    sa.Column("settled_at", UTCDateTime, nullable=True),
    sa.Column("outcome", sa.String(500), nullable=True),
    sa.UniqueConstraint("order_id", "kind"),  # each deadline at most once per order (its starting event is)
    sa.Index("ix_timers_state_due", "state", "due_at"),
)


@dataclass(frozen=True)
class Deadlines:
    """How long each deadline waits, in seconds; 0 disables it."""

    accept_timeout_s: float = 600.0
    pickup_alert_s: float = 900.0
    confirm_timeout_s: float = 86_400.0

    @classmethod
    def from_settings(cls, settings: Any) -> Deadlines:
        return cls(settings.accept_timeout_s, settings.pickup_alert_s, settings.confirm_timeout_s)

    def seconds(self, kind: str) -> float:
        return float(getattr(self, KINDS[kind][1]))


_HEAD = sa.text("SELECT COALESCE(MAX(id), 0) FROM events")


# SKIP LOCKED: a timer being fired right now is left to its firing, which sees the order moved on
# and cancels it itself. Waiting for it instead would deadlock (the firing holds the timer and wants
# the aggregate this unit holds). SQLite has one writer: no lock to skip (the clause is not rendered).
# Built once: the hook runs in every commit that starts or ends a deadline.
_CANCEL = (
    timers.update()
    .where(
        timers.c.id.in_(
            sa.select(timers.c.id)
            .where(
                timers.c.order_id.in_(sa.bindparam("orders", expanding=True)),
                timers.c.kind.in_(sa.bindparam("kinds", expanding=True)),
                timers.c.state == PENDING,
            )
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
    )
    .values(state=CANCELLED, settled_at=sa.bindparam("at"), outcome=sa.bindparam("why"))
)
_START = timers.insert()


class Scheduler:
    """The unit of work's commit hook: starts a timer for each event that starts a deadline, and
    cancels the pending timers each event ends (``KINDS``)."""

    def __init__(self, deadlines: Deadlines) -> None:
        self.deadlines = deadlines

    def __call__(self, uow: UnitOfWork, records: Sequence[tuple[Event, str]]) -> None:
        starts = [(i, e) for i, (e, _) in enumerate(records) if e.event_type in STARTS and self.deadlines.seconds(STARTS[e.event_type])]
        ends: dict[tuple[str, ...], dict[str, str]] = defaultdict(dict)
        for event, _ in records:
            if event.event_type in ENDS:
                ends[ENDS[event.event_type]].setdefault(event.order_id, event.event_type)
        if not starts and not ends:
            return
        conn, now = uow.conn, uow.now
        if starts:
            first_id = conn.execute(_HEAD).scalar_one() - len(records) + 1  # appended just now, contiguously (one writer)
            rows = []
            for index, event in starts:
                kind = STARTS[event.event_type]
                rows.append({
                    "order_id": event.order_id, "kind": kind, "due_at": now + timedelta(seconds=self.deadlines.seconds(kind)),
                    "state": PENDING, "created_at": now, "created_by_event": first_id + index, "settled_at": None, "outcome": None,
                })
            conn.execute(_START, rows)
        for kinds, orders in ends.items():
            by_event: dict[str, list[str]] = defaultdict(list)
            for order_id, event_type in orders.items():
                by_event[event_type].append(order_id)
            for event_type, order_ids in by_event.items():
                conn.execute(_CANCEL, {"orders": order_ids, "kinds": list(kinds), "at": now, "why": f"ended by {event_type}"})


# -- queries ------------------------------------------------------------------------------------


def view(row: sa.Row) -> TimerView:
    return TimerView(
        id=row.id, order_id=row.order_id, kind=row.kind, due_at=row.due_at, state=row.state, created_at=row.created_at,
        created_by_event=row.created_by_event, settled_at=row.settled_at, outcome=row.outcome,
    )


def pending(conn: sa.Connection, order_id: str) -> list[TimerView]:
    """An order's pending deadlines, soonest first."""
    query = sa.select(timers).where(timers.c.order_id == order_id, timers.c.state == PENDING).order_by(timers.c.due_at, timers.c.id)
    return [view(r) for r in conn.execute(query)]


def acceptance_due(conn: sa.Connection, order_ids: list[str]) -> dict[str, datetime]:
    """When each of these orders' pending acceptance deadline falls due (orders without one are absent)."""
    if not order_ids:
        return {}
    query = sa.select(timers.c.order_id, timers.c.due_at).where(
        timers.c.order_id.in_(order_ids), timers.c.kind == ACCEPTANCE, timers.c.state == PENDING
    )
    return {row.order_id: row.due_at for row in conn.execute(query)}


def of_order(conn: sa.Connection, order_id: str) -> list[TimerView]:
    """Every deadline an order started, whatever became of it, oldest first."""
    return [view(r) for r in conn.execute(sa.select(timers).where(timers.c.order_id == order_id).order_by(timers.c.id))]


def due(conn: sa.Connection, now: datetime, limit: int = 100, *, overdue_by_s: float = 0.0) -> list[TimerView]:
    """Pending timers due at ``now`` (or, with ``overdue_by_s``, due that long before it), most overdue first."""
    cutoff = now - timedelta(seconds=overdue_by_s)
    query = sa.select(timers).where(timers.c.state == PENDING, timers.c.due_at <= cutoff).order_by(timers.c.due_at, timers.c.id).limit(limit)
    return [view(r) for r in conn.execute(query)]


def count_due(conn: sa.Connection, now: datetime, *, overdue_by_s: float = 0.0) -> int:
    cutoff = now - timedelta(seconds=overdue_by_s)
    return conn.execute(sa.select(sa.func.count()).select_from(timers).where(timers.c.state == PENDING, timers.c.due_at <= cutoff)).scalar_one()


def failed(conn: sa.Connection, limit: int = 100) -> list[TimerView]:
    """Timers whose firing failed with an unexpected error (a bug), newest first."""
    query = sa.select(timers).where(timers.c.state == FAILED).order_by(timers.c.settled_at.desc(), timers.c.id.desc()).limit(limit)
    return [view(r) for r in conn.execute(query)]


def counts(conn: sa.Connection) -> dict[str, dict[str, int]]:
    """How many timers of each kind are in each state."""
    result: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
    for kind, state, n in conn.execute(sa.select(timers.c.kind, timers.c.state, sa.func.count()).group_by(timers.c.kind, timers.c.state)):
        result.setdefault(kind, {})[state] = n
    return result
