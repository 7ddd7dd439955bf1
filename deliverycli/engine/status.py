"""The status view (CQRS read model): one row per order and its timeline, kept from events only,
so it can be rebuilt from the log at any time."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .errors import InvalidInput, NotFound
from .events import EVENT_TYPES, StoredEvent
from .lifecycle import OrderStatus, follow
from .storage import UTCDateTime, metadata
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
    sa.Index("ix_order_status_status_updated", "status", "updated_at"),
    sa.Index("ix_order_status_customer", "customer_id", "placed_at"),
    sa.Index("ix_order_status_store", "store_id", "placed_at"),
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

REASONS = {"OrderRejected": "reason", "OrderCancelled": "reason", "CancellationRefused": "reason"}


def _apply(event: StoredEvent, uow: UnitOfWork) -> None:
    conn = uow.conn
    if event.event_type == "OrderPlaced":
        p = event.payload
        conn.execute(
            order_status.insert().values(
                order_id=event.order_id, customer_id=p["customer_id"], store_id=p["store_id"], rider_id=None,
                status=OrderStatus.PENDING_PAYMENT.value, resume_status=None, total=p["total"], currency=p["currency"],
                reason=None, placed_at=event.occurred_at, updated_at=event.occurred_at, last_event_id=event.id,
            )
        )
        status = OrderStatus.PENDING_PAYMENT
    else:
        row = conn.execute(
            sa.select(order_status.c.status, order_status.c.resume_status, order_status.c.reason).where(order_status.c.order_id == event.order_id)
        ).first()
        if row is None:
            raise NotFound(f"status view has no order {event.order_id} for event {event.id}")
        status, resume = follow(OrderStatus(row.status), OrderStatus(row.resume_status) if row.resume_status else None, event.event_type)
        values: dict[str, Any] = {
            "status": status.value,
            "resume_status": resume.value if resume else None,
            "updated_at": event.occurred_at,
            "last_event_id": event.id,
        }
        if event.event_type in REASONS:
            values["reason"] = event.payload[REASONS[event.event_type]]
        if event.event_type == "DeliveryPickedUp":
            values["rider_id"] = event.payload["rider_id"]
        conn.execute(order_status.update().where(order_status.c.order_id == event.order_id).values(**values))
    conn.execute(
        order_timeline.insert().values(
            event_id=event.id, order_id=event.order_id, event_type=event.event_type, status=status.value, actor=event.actor, at=event.occurred_at
        )
    )


HANDLERS = {event_type: _apply for event_type in EVENT_TYPES if event_type != "NotificationSent"}


def _row(row: sa.Row) -> dict[str, Any]:
    return {
        "id": row.order_id,
        "status": row.status,
        "customer_id": row.customer_id,
        "store_id": row.store_id,
        "rider_id": row.rider_id,
        "total": row.total,
        "currency": row.currency,
        "reason": row.reason,
        "placed_at": row.placed_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def get_status(conn: sa.Connection, order_id: str) -> dict[str, Any]:
    """An order's status and its timeline: ``{status, at, event}`` for each event, oldest first."""
    row = conn.execute(sa.select(order_status).where(order_status.c.order_id == order_id)).first()
    if row is None:
        raise NotFound(f"no order {order_id!r}")
    timeline = conn.execute(
        sa.select(order_timeline).where(order_timeline.c.order_id == order_id).order_by(order_timeline.c.event_id)
    )
    result = _row(row)
    result["timeline"] = [
        {"status": t.status, "at": t.at.isoformat(), "event": t.event_type, "event_id": t.event_id, "actor": t.actor} for t in timeline
    ]
    return result


def list_orders(
    conn: sa.Connection,
    customer_id: str | None = None,
    store_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """A page of orders, newest first, from the status view."""
    query = sa.select(order_status)
    if customer_id is not None:
        query = query.where(order_status.c.customer_id == customer_id)
    if store_id is not None:
        query = query.where(order_status.c.store_id == store_id)
    if status is not None:
        try:
            status = OrderStatus(status.upper()).value
        except ValueError:
            raise InvalidInput(f"unknown status {status!r}; one of: {', '.join(s.value for s in OrderStatus)}") from None
        query = query.where(order_status.c.status == status)
    query = query.order_by(order_status.c.placed_at.desc(), order_status.c.order_id.desc()).limit(limit).offset(offset)
    return [_row(r) for r in conn.execute(query)]


def counts_by_status(conn: sa.Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(order_status.c.status, sa.func.count()).group_by(order_status.c.status))
    return {status: count for status, count in rows}
