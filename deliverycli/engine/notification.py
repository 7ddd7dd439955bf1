"""Notifications: one to the customer every time an order's status changes (SPEC scenario 10), plus
the store and the rider where it concerns them. Kept from events only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .events import NotificationSent, StoredEvent
from .lifecycle import STATUS_AFTER_EVENT, OrderState, OrderStatus, fold
from .storage import UTCDateTime, metadata
from .views import Notification

if TYPE_CHECKING:
    from .unit_of_work import UnitOfWork

S = OrderStatus

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(64), nullable=False, index=True),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("recipient_type", sa.String(16), nullable=False),
    sa.Column("recipient_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("message", sa.String(500), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("event_id", "recipient_type", "recipient_id"),
    sa.Index("ix_notifications_recipient", "recipient_type", "recipient_id", "id"),
)

# What notifications remember of each order to address them: its parties and its last status.
notification_orders = sa.Table(
    "notification_orders",
    metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("store_id", sa.String(64), nullable=False),
    sa.Column("rider_id", sa.String(64), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("resume_status", sa.String(32), nullable=True),
)

MESSAGES = {
    S.PENDING_PAYMENT: "Order {id} was placed and is waiting for payment.",
    S.PAID: "Order {id} is paid and was sent to the store.",
    S.COOKING: "The store started cooking order {id}.",
    S.READY_FOR_PICKUP: "Order {id} is cooked and waiting for a rider.",
    S.DELIVERING: "Order {id} was picked up and is on its way.",
    S.DELIVERED: "Order {id} was delivered. Please confirm you received it.",
    S.CONFIRMED: "You confirmed delivery of order {id}. Enjoy your meal!",
    S.REJECTED: "Order {id} was rejected: {reason}",
    S.CANCEL_PENDING: "Cancellation of order {id} was requested; waiting for the store.",
    S.CANCELLED: "Order {id} was cancelled and refunded: {reason}",
}
REFUSED_MESSAGE = "Your cancellation of order {id} was refused: {reason}. The order goes on as {status}."

# Who besides the customer hears of a status, and what they are told.
STORE_STATUSES = {
    S.PAID: "New order {id} arrived.",
    S.CANCEL_PENDING: "The customer asked to cancel order {id}.",
    S.CANCELLED: "Order {id} was cancelled.",
}
RIDER_STATUSES = {S.DELIVERING: "You picked up order {id}.", S.DELIVERED: "You delivered order {id}.", S.CONFIRMED: "The customer confirmed order {id}."}

# Alerts (no status change): who hears of them besides nobody else. ``operations`` is the ops team.
ALERTS = {
    "PickupOverdue": (
        ("store", "Order {id} has waited {minutes} min for a rider; no one has picked it up yet."),
        ("operations", "Order {id} (store {store}) has waited {minutes} min for a rider."),
    ),
}

HANDLED = set(STATUS_AFTER_EVENT) | {"CancellationRefused"} | set(ALERTS)


_UPDATE = (
    notification_orders.update()
    .where(notification_orders.c.order_id == sa.bindparam("key"))
    .values(status=sa.bindparam("status"), resume_status=sa.bindparam("resume_status"), rider_id=sa.bindparam("rider_id"))
)


def apply_batch(events: list[StoredEvent], uow: UnitOfWork) -> None:
    """Notify every status change in the batch (the one fold, ``OrderState``); each order's state is
    read once and written once."""
    conn = uow.conn
    known = {e.order_id for e in events if e.event_type != "OrderPlaced"}
    states: dict[str, OrderState] = {}
    if known:
        rows = conn.execute(sa.select(notification_orders).where(notification_orders.c.order_id.in_(known)))
        states = {
            r.order_id: OrderState(
                order_id=r.order_id, customer_id=r.customer_id, store_id=r.store_id, rider_id=r.rider_id, status=S(r.status),
                resume_status=S(r.resume_status) if r.resume_status else None,
            )
            for r in rows
        }
    created: set[str] = set()
    changed: set[str] = set()
    sent = []
    for event in events:
        state, status_changed = fold(states, event)
        if state is None:
            continue  # placed before notifications existed: nobody to address
        (created if event.event_type == "OrderPlaced" else changed).add(event.order_id)
        if status_changed:
            sent.extend(_notify(event, state, uow))
        elif event.event_type in ALERTS:
            sent.extend(_alert(event, state, uow))
    if created:
        conn.execute(notification_orders.insert(), [_remembered(states[o]) for o in created])
    updates = [_remembered(states[o]) | {"key": o} for o in changed - created]
    if updates:
        conn.execute(_UPDATE, [{k: u[k] for k in ("key", "status", "resume_status", "rider_id")} for u in updates])
    if sent:
        conn.execute(notifications.insert(), sent)


def _remembered(state: OrderState) -> dict[str, Any]:
    return {
        "order_id": state.order_id, "customer_id": state.customer_id, "store_id": state.store_id, "rider_id": state.rider_id,
        "status": state.status.value, "resume_status": state.resume_status.value if state.resume_status else None,
    }


def _notify(event: StoredEvent, order: OrderState, uow: UnitOfWork) -> list[dict[str, Any]]:
    """The notification rows for one status change, and its NotificationSent event."""
    status = order.status
    reason = event.payload.get("reason", "")
    if event.event_type == "CancellationRefused":
        customer_message = REFUSED_MESSAGE.format(id=event.order_id, reason=reason, status=status.value)
    else:
        customer_message = MESSAGES[status].format(id=event.order_id, reason=reason)
    recipients = [("customer", order.customer_id, customer_message)]
    if status in STORE_STATUSES:
        recipients.append(("store", order.store_id, STORE_STATUSES[status].format(id=event.order_id)))
    if status in RIDER_STATUSES and order.rider_id:
        recipients.append(("rider", order.rider_id, RIDER_STATUSES[status].format(id=event.order_id)))
    uow.record(
        NotificationSent(
            order_id=event.order_id, status=status.value, recipients=[f"{kind}:{who}" for kind, who, _ in recipients], message=customer_message[:500]
        )
    )
    return [
        {
            "order_id": event.order_id, "event_id": event.id, "recipient_type": kind, "recipient_id": who,
            "status": status.value, "channel": "app", "message": message[:500], "created_at": uow.now,
        }
        for kind, who, message in recipients
    ]


def _alert(event: StoredEvent, order: OrderState, uow: UnitOfWork) -> list[dict[str, Any]]:
    """The notification rows for an alert (a deadline passed without a status change), and its NotificationSent."""
    p = event.payload
    values = {"id": event.order_id, "store": order.store_id, "minutes": max(1, round(p.get("waited_s", 0) / 60))}
    recipients = [(kind, order.store_id if kind == "store" else "operations", text.format(**values)) for kind, text in ALERTS[event.event_type]]
    uow.record(
        NotificationSent(
            order_id=event.order_id, status=order.status.value, recipients=[f"{kind}:{who}" for kind, who, _ in recipients], message=recipients[0][2][:500]
        )
    )
    return [
        {
            "order_id": event.order_id, "event_id": event.id, "recipient_type": kind, "recipient_id": who,
            "status": order.status.value, "channel": "app", "message": message[:500], "created_at": uow.now,
        }
        for kind, who, message in recipients
    ]


def _apply(event: StoredEvent, uow: UnitOfWork) -> None:
    apply_batch([event], uow)


HANDLERS = {event_type: _apply for event_type in HANDLED}


def notification_view(row: sa.Row) -> Notification:
    return Notification(
        id=row.id, order_id=row.order_id, recipient=f"{row.recipient_type}:{row.recipient_id}", recipient_type=row.recipient_type,
        recipient_id=row.recipient_id, status=row.status, channel=row.channel, message=row.message, created_at=row.created_at,
    )


def list_notifications(
    conn: sa.Connection, recipient_type: str | None = None, recipient_id: str | None = None, after: int = 0, limit: int = 100
) -> list[Notification]:
    """Notifications oldest first; ``after`` pages forward (used by --follow)."""
    query = sa.select(notifications).where(notifications.c.id > after)
    if recipient_type is not None:
        query = query.where(notifications.c.recipient_type == recipient_type, notifications.c.recipient_id == recipient_id)
    if after:
        query = query.order_by(notifications.c.id).limit(limit)
        return [notification_view(r) for r in conn.execute(query)]
    query = query.order_by(notifications.c.id.desc()).limit(limit)
    return [notification_view(r) for r in reversed(conn.execute(query).all())]
