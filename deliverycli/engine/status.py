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
    sa.Index("ix_order_status_status_placed", "status", "placed_at", "order_id"),  # orders list --status: a page, not a sort
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
    )
)
_COLUMNS = ("order_id", "status", "resume_status", "reason", "rider_id")


def apply_batch(events: list[StoredEvent], uow: UnitOfWork) -> None:
    """Apply events to the view: each order's row is read once and written once per batch."""
    conn = uow.conn
    known = {e.order_id for e in events if e.event_type != "OrderPlaced"}
    rows: dict[str, dict[str, Any]] = {}
    if known:
        query = sa.select(*(order_status.c[c] for c in _COLUMNS)).where(order_status.c.order_id.in_(known))
        rows = {r.order_id: dict(r._mapping) for r in conn.execute(query)}
    created: dict[str, dict[str, Any]] = {}
    timeline = []
    for event in events:
        if event.event_type == "OrderPlaced":
            p = event.payload
            row = created[event.order_id] = rows[event.order_id] = {
                "order_id": event.order_id, "customer_id": p["customer_id"], "store_id": p["store_id"], "rider_id": None,
                "status": OrderStatus.PENDING_PAYMENT.value, "resume_status": None, "total": p["total"], "currency": p["currency"],
                "reason": None, "placed_at": event.occurred_at,
            }
        else:
            row = rows.get(event.order_id)
            if row is None:
                raise NotFound(f"status view has no order {event.order_id} for event {event.id}")
            status, resume = follow(OrderStatus(row["status"]), OrderStatus(row["resume_status"]) if row["resume_status"] else None, event.event_type)
            row["status"], row["resume_status"] = status.value, resume.value if resume else None
            if event.event_type in REASONS:
                row["reason"] = event.payload[REASONS[event.event_type]]
            if event.event_type == "DeliveryPickedUp":
                row["rider_id"] = event.payload["rider_id"]
        row["updated_at"], row["last_event_id"] = event.occurred_at, event.id
        timeline.append(
            {"event_id": event.id, "order_id": event.order_id, "event_type": event.event_type, "status": row["status"], "actor": event.actor, "at": event.occurred_at}
        )
    if created:
        conn.execute(order_status.insert(), list(created.values()))
    changed = [row | {"key": order_id} for order_id, row in rows.items() if order_id not in created and "updated_at" in row]
    if changed:
        conn.execute(_UPDATE, [{k: row[k] for k in ("key", "status", "resume_status", "reason", "rider_id", "updated_at", "last_event_id")} for row in changed])
    conn.execute(order_timeline.insert(), timeline)


def _apply(event: StoredEvent, uow: UnitOfWork) -> None:
    apply_batch([event], uow)


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


def stuck_orders(conn: sa.Connection, cutoff: Any, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    """Orders in a non-final status whose last change is older than ``cutoff``: the oldest ``limit``, and how many."""
    from .lifecycle import FINAL

    where = (order_status.c.status.in_([s.value for s in OrderStatus if s not in FINAL]), order_status.c.updated_at < cutoff)
    rows = conn.execute(sa.select(order_status).where(*where).order_by(order_status.c.updated_at, order_status.c.order_id).limit(limit))
    count = conn.execute(sa.select(sa.func.count()).select_from(order_status).where(*where)).scalar_one()
    return [_row(r) for r in rows], count
