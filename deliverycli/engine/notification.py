"""Notifications: every time an order's status changes (SPEC scenario 10) each party it concerns is
told: the customer always; the store for every change of its (paid) orders, cancellation attempts
included; every available rider (none on the road) when an order is ready for pickup; the assigned
rider for changes to their delivery. Kept from events only (riders are reference data)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .catalog import riders, stores
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
    sa.Index("ix_notification_orders_status_rider", "status", "rider_id"),  # the riders on the road
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
COOKING_MESSAGE = "The store started cooking order {id}; it should be ready around {ready}."
# A cancellation the order refused by itself: the status does not change, but both are told.
ORDER_REFUSED = {
    "customer": "You asked to cancel order {id}: {reason}.",
    "store": "The customer asked to cancel order {id}; it was refused: {reason}.",
}

# What the store hears of each status of its orders (an order is the store's once it is paid).
STORE_STATUSES = {
    S.PAID: "New order {id} arrived.",
    S.COOKING: "You are cooking order {id}.",
    S.READY_FOR_PICKUP: "Order {id} is ready; riders were told.",
    S.DELIVERING: "A rider picked up order {id}.",
    S.DELIVERED: "Order {id} was delivered.",
    S.CONFIRMED: "The customer confirmed order {id}.",
    S.CANCEL_PENDING: "The customer asked to cancel order {id}.",
    S.CANCELLED: "Order {id} was cancelled.",
}
STORE_REFUSED = "The customer's cancellation of order {id} was refused: {reason}."
# The assigned rider, for changes to their delivery.
RIDER_STATUSES = {S.DELIVERING: "You picked up order {id}.", S.DELIVERED: "You delivered order {id}.", S.CONFIRMED: "The customer confirmed order {id}."}
# Every available rider (none on the road), when an order waits for one.
WAITING_MESSAGE = "Order {id} is ready for pickup at {store}: first come, first served."

# Alerts (no status change): who hears of them besides nobody else. ``operations`` is the ops team.
ALERTS = {
    "PickupOverdue": (
        ("store", "Order {id} has waited {minutes} min for a rider; no one has picked it up yet."),
        ("operations", "Order {id} (store {store}) has waited {minutes} min for a rider."),
    ),
}

# Events that tell people something without changing the status.
NOTICES = {"OrderCancellationRefused"}
HANDLED = set(STATUS_AFTER_EVENT) | {"CancellationRefused"} | NOTICES | set(ALERTS)


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
    waiting = _Riders(conn, states)
    for event in events:
        state, status_changed = fold(states, event)
        if state is None:
            continue  # placed before notifications existed: nobody to address
        (created if event.event_type == "OrderPlaced" else changed).add(event.order_id)
        if status_changed or event.event_type in NOTICES:
            sent.extend(_notify(event, state, uow, waiting))
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


class _Riders:
    """The riders to tell of an order waiting for one: every rider with no order on the road, as
    this batch left them (read once per batch, and only if an order became ready)."""

    def __init__(self, conn: sa.Connection, states: dict[str, OrderState]) -> None:
        self.conn, self.states = conn, states
        self.all: list[str] | None = None
        self.on_road: dict[str, str] = {}
        self.stores: dict[str, str] = {}

    def available(self) -> list[str]:
        if self.all is None:
            n = notification_orders
            self.all = list(self.conn.execute(sa.select(riders.c.id).order_by(riders.c.id)).scalars())
            self.on_road = dict(self.conn.execute(sa.select(n.c.order_id, n.c.rider_id).where(n.c.status == S.DELIVERING.value)).all())
        on_road = dict(self.on_road)
        for order_id, state in self.states.items():  # as this batch left them (the table is written at its end)
            if state.status is S.DELIVERING and state.rider_id:
                on_road[order_id] = state.rider_id
            else:
                on_road.pop(order_id, None)
        busy = set(on_road.values())
        return [r for r in self.all if r not in busy]

    def store_name(self, store_id: str) -> str:
        if store_id not in self.stores:
            name = self.conn.execute(sa.select(stores.c.name).where(stores.c.id == store_id)).scalar()
            self.stores[store_id] = name or store_id
        return self.stores[store_id]


def around(moment: datetime | None) -> str:
    """An estimate as people say it: local wall-clock hours and minutes ("12:40")."""
    return moment.astimezone().strftime("%H:%M") if moment is not None else "soon"


def _notify(event: StoredEvent, order: OrderState, uow: UnitOfWork, waiting: _Riders) -> list[dict[str, Any]]:
    """The notification rows for one status change (or notice), and its NotificationSent event."""
    status = order.status
    reason = event.payload.get("reason", "")
    oid = event.order_id
    store_message = STORE_STATUSES.get(status, "").format(id=oid)
    if event.event_type in NOTICES:
        customer_message = ORDER_REFUSED["customer"].format(id=oid, reason=reason)
        store_message = ORDER_REFUSED["store"].format(id=oid, reason=reason)
    elif event.event_type == "CancellationRefused":
        customer_message = REFUSED_MESSAGE.format(id=oid, reason=reason, status=status.value)
        store_message = STORE_REFUSED.format(id=oid, reason=reason)
    elif status is S.COOKING and order.ready_at is not None:
        customer_message = COOKING_MESSAGE.format(id=oid, ready=around(order.ready_at))
        store_message = f"You are cooking order {oid}; ready around {around(order.ready_at)}."
    else:
        customer_message = MESSAGES[status].format(id=oid, reason=reason)
    recipients = [("customer", order.customer_id, customer_message)]
    if store_message:
        recipients.append(("store", order.store_id, store_message))
    if status in RIDER_STATUSES and order.rider_id and event.event_type not in NOTICES:
        recipients.append(("rider", order.rider_id, RIDER_STATUSES[status].format(id=oid)))
    if status is S.READY_FOR_PICKUP and event.event_type == "CookingFinished":
        message = WAITING_MESSAGE.format(id=oid, store=waiting.store_name(order.store_id))
        recipients.extend(("rider", rider_id, message) for rider_id in waiting.available())
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
