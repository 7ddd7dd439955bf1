"""The status view (CQRS read model): one row per order and its timeline, kept from events only,
so it can be rebuilt from the log at any time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import counters
from .errors import InvalidInput, NotFound
from .lifecycle import FINAL, OrderState, OrderStatus, fold
from .storage import UTCDateTime, metadata
from .views import OrderPage, OrderSummary, StatusView, TimelineEntry

if TYPE_CHECKING:
    from .events import StoredEvent
    from .unit_of_work import UnitOfWork

order_status = sa.Table(
    "order_status",
    metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("store_id", sa.String(64), nullable=False),
    sa.Column("rider_id", sa.String(64), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("resume_status", sa.String(32), nullable=True),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("placed_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_event_id", sa.BigInteger, nullable=False),
    sa.Column("ready_at", UTCDateTime, nullable=True),  # the store's estimate, from CookingStarted
    sa.Index("ix_order_status_status_updated", "status", "updated_at"),
    sa.Index("ix_order_status_status_placed", "status", "placed_at", "order_id"),  # orders list --status: a page, not a sort
    sa.Index("ix_order_status_customer", "customer_id", "placed_at"),
    sa.Index("ix_order_status_store", "store_id", "placed_at"),
    sa.Index("ix_order_status_placed", "placed_at", "order_id"),  # orders list, unfiltered: a page, not a sort
)

order_timeline = sa.Table(
    "order_timeline",
    metadata,
    sa.Column("event_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_order_timeline_order", "order_id", "event_id"),
)

_UPDATE = (
    order_status.update()
    .where(order_status.c.order_id == sa.bindparam("key"))
    .values(
        status=sa.bindparam("status"),
        resume_status=sa.bindparam("resume_status"),
        reason=sa.bindparam("reason"),
        rider_id=sa.bindparam("rider_id"),
        updated_at=sa.bindparam("updated_at"),
        last_event_id=sa.bindparam("last_event_id"),
        ready_at=sa.bindparam("ready_at"),
    )
)
_LOAD = sa.select(order_status).where(order_status.c.order_id.in_(sa.bindparam("order_ids", expanding=True)))


def _state(row: sa.Row) -> OrderState:
    return OrderState(
        order_id=row.order_id, customer_id=row.customer_id, store_id=row.store_id, status=OrderStatus(row.status),
        resume_status=OrderStatus(row.resume_status) if row.resume_status else None, rider_id=row.rider_id, reason=row.reason,
        total=row.total, currency=row.currency, placed_at=row.placed_at, updated_at=row.updated_at, last_event_id=row.last_event_id,
        ready_at=row.ready_at,
    )


def row_values(state: OrderState) -> dict[str, Any]:
    """The status view's row for an order's state."""
    return {
        "order_id": state.order_id, "customer_id": state.customer_id, "store_id": state.store_id, "rider_id": state.rider_id,
        "status": state.status.value, "resume_status": state.resume_status.value if state.resume_status else None,
        "total": state.total, "currency": state.currency, "reason": state.reason, "placed_at": state.placed_at,
        "updated_at": state.updated_at, "last_event_id": state.last_event_id, "ready_at": state.ready_at,
    }


def timeline_entry(event: StoredEvent, state: OrderState) -> dict[str, Any]:
    """The timeline row an event adds: the order's status after it."""
    return {"event_id": event.id, "order_id": event.order_id, "event_type": event.event_type, "status": state.status.value, "actor": event.actor, "at": event.occurred_at}


def apply_batch(events: list[StoredEvent], uow: UnitOfWork) -> None:
    """Apply events to the view (the one fold, ``OrderState``): each order's row is read once and written once per batch."""
    conn = uow.conn
    known = {e.order_id for e in events if e.event_type != "OrderPlaced"}
    states = {row.order_id: _state(row) for row in conn.execute(_LOAD, {"order_ids": list(known)})} if known else {}
    before = {order_id: state.status for order_id, state in states.items()}
    created: set[str] = set()
    changed: set[str] = set()
    timeline = []
    for event in events:
        state, _ = fold(states, event)
        if state is None:
            raise NotFound(f"status view has no order {event.order_id} for event {event.id}")
        (created if event.event_type == "OrderPlaced" else changed).add(event.order_id)
        timeline.append(timeline_entry(event, state))
    if created:
        conn.execute(order_status.insert(), [row_values(states[o]) for o in created])
    updates = [row_values(states[o]) | {"key": o} for o in changed - created]
    if updates:
        conn.execute(_UPDATE, [{k: row[k] for k in ("key", "status", "resume_status", "reason", "rider_id", "updated_at", "last_event_id", "ready_at")} for row in updates])
    conn.execute(order_timeline.insert(), timeline)
    count_changes(uow, states, before, created | changed)


def count_changes(uow: UnitOfWork, states: dict[str, OrderState], before: dict[str, OrderStatus], touched: set[str]) -> None:
    """Move the view's counters (``counters``) from each touched order's status before the batch to its status after."""
    for order_id in touched:
        state, was = states[order_id], before.get(order_id)
        if was is state.status:
            continue
        if was is not None:
            for key in counters.order_keys(state.customer_id, state.store_id, was.value):
                uow.count(key, -1)
        for key in counters.order_keys(state.customer_id, state.store_id, state.status.value):
            uow.count(key, +1)


def _apply(event: StoredEvent, uow: UnitOfWork) -> None:
    apply_batch([event], uow)


def __getattr__(name: str) -> Any:
    """``HANDLERS`` (every event type but NotificationSent), made on first use: only the command
    side needs it, and it imports every event model, which a status query never reads."""
    if name == "HANDLERS":
        from .events import EVENT_TYPES

        handlers = {event_type: _apply for event_type in EVENT_TYPES if event_type != "NotificationSent"}
        globals()["HANDLERS"] = handlers
        return handlers
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def summary(row: sa.Row) -> OrderSummary:
    return OrderSummary(
        id=row.order_id, status=row.status, customer_id=row.customer_id, store_id=row.store_id, rider_id=row.rider_id,
        total=row.total, currency=row.currency, reason=row.reason, placed_at=row.placed_at, updated_at=row.updated_at, ready_at=row.ready_at,
    )


def get_status(conn: sa.Connection, order_id: str) -> StatusView:
    """An order's status and its timeline (one entry per event, oldest first)."""
    row = conn.execute(sa.select(order_status).where(order_status.c.order_id == order_id)).first()
    if row is None:
        raise NotFound(f"no order {order_id!r}")
    timeline = conn.execute(
        sa.select(order_timeline).where(order_timeline.c.order_id == order_id).order_by(order_timeline.c.event_id)
    )
    return StatusView(
        **summary(row).model_dump(),
        timeline=[TimelineEntry(status=t.status, at=t.at, event=t.event_type, event_id=t.event_id, actor=t.actor) for t in timeline],
    )


def _filters(customer_id: str | None, store_id: str | None, status: str | None) -> list[sa.ColumnElement[bool]]:
    where = []
    if customer_id is not None:
        where.append(order_status.c.customer_id == customer_id)
    if store_id is not None:
        where.append(order_status.c.store_id == store_id)
    if status is not None:
        try:
            status = OrderStatus(status.upper()).value
        except ValueError:
            raise InvalidInput(f"unknown status {status!r}; one of: {', '.join(s.value for s in OrderStatus)}", field="status") from None
        where.append(order_status.c.status == status)
    return where


def list_orders(
    conn: sa.Connection,
    customer_id: str | None = None,
    store_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[OrderSummary]:
    """A page of orders, newest first, from the status view."""
    query = sa.select(order_status).where(*_filters(customer_id, store_id, status))
    query = query.order_by(order_status.c.placed_at.desc(), order_status.c.order_id.desc()).limit(limit).offset(offset)
    return [summary(r) for r in conn.execute(query)]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cursor(order: OrderSummary) -> str:
    """The keyset position just after ``order`` (newest first): its placed_at (microseconds since
    the epoch) and its id, e.g. ``1796392658558927.ord-000030``."""
    micros = (order.placed_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{order.id}"


def parse_cursor(value: str) -> tuple[datetime, str]:
    """(placed_at, order id) from a cursor; InvalidInput for anything ``cursor`` did not make."""
    micros, _, order_id = value.partition(".")
    if not (micros.isdigit() and order_id and len(micros) <= 18):
        raise InvalidInput(f"not a page cursor: {value[:40]!r} (use the one the previous page printed)", field="after")
    return _EPOCH + timedelta(microseconds=int(micros)), order_id


def page_query(
    customer_id: str | None = None, store_id: str | None = None, status: str | None = None, limit: int = 50, after: str | None = None,
) -> sa.Select:
    """One more than a page of orders after the cursor ``after``, newest first: an index range."""
    if limit < 1:
        raise InvalidInput(f"a page holds at least one order, not {limit}", field="limit")
    c = order_status.c
    query = sa.select(order_status).where(*_filters(customer_id, store_id, status))
    if after is not None:
        placed_at, order_id = parse_cursor(after)
        query = query.where(c.placed_at <= placed_at, sa.or_(c.placed_at < placed_at, c.order_id < order_id))
    return query.order_by(c.placed_at.desc(), c.order_id.desc()).limit(limit + 1)


def page_orders(
    conn: sa.Connection, customer_id: str | None = None, store_id: str | None = None, status: str | None = None,
    limit: int = 50, after: str | None = None,
) -> OrderPage:
    """A page of orders, newest first, starting after the cursor ``after`` (keyset pagination: one
    index range whatever page it is; orders placed meanwhile never shift a page)."""
    rows = [summary(r) for r in conn.execute(page_query(customer_id, store_id, status, limit, after))]
    return OrderPage(orders=rows[:limit], next=cursor(rows[limit - 1]) if len(rows) > limit else None)


def count_orders(conn: sa.Connection, customer_id: str | None = None, store_id: str | None = None, status: str | None = None) -> int:
    """How many orders match: from the counters (``counters``) for every order, a customer's or a
    store's; a customer's orders at one store are counted from the status view's index."""
    where = _filters(customer_id, store_id, status)  # validates the status
    if customer_id is not None and store_id is not None:
        return conn.execute(sa.select(sa.func.count()).select_from(order_status).where(*where)).scalar_one()
    scope, key = (
        (counters.CUSTOMER, customer_id) if customer_id is not None else (counters.STORE, store_id) if store_id is not None else (counters.ORDERS, "")
    )
    counts = counters.read(conn, scope, key)
    return counts.get(OrderStatus(status.upper()).value, 0) if status is not None else sum(counts.values())


def counts_by_status(conn: sa.Connection) -> dict[str, int]:
    """Orders by status (statuses with none left out), from the counters: no scan."""
    return counters.read(conn, counters.ORDERS)


def stuck_orders(conn: sa.Connection, cutoff: datetime, limit: int = 50) -> tuple[list[OrderSummary], int]:
    """Orders in a non-final status whose last change is older than ``cutoff``: the oldest ``limit``, and how many."""
    where = (order_status.c.status.in_([s.value for s in OrderStatus if s not in FINAL]), order_status.c.updated_at < cutoff)
    rows = conn.execute(sa.select(order_status).where(*where).order_by(order_status.c.updated_at, order_status.c.order_id).limit(limit))
    count = conn.execute(sa.select(sa.func.count()).select_from(order_status).where(*where)).scalar_one()
    return [summary(r) for r in rows], count


def cooking_orders(conn: sa.Connection, limit: int = 100) -> list[OrderSummary]:
    """Orders being cooked, soonest ready first (orders without an estimate last)."""
    query = sa.select(order_status).where(order_status.c.status == OrderStatus.COOKING.value)
    query = query.order_by(order_status.c.ready_at.is_(None), order_status.c.ready_at, order_status.c.order_id).limit(limit)
    return [summary(r) for r in conn.execute(query)]
