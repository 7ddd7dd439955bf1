"""Store: the store's order list (kitchen tickets). The store is the authority on whether cooking
started, so it decides every cancellation request."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from . import catalog, eventlog
from .commands import AcceptOrder, MarkReady, RejectOrder
from .errors import ConcurrencyConflict, Conflict, IllegalTransition, NotFound, NotPermitted
from .events import (
    CancellationRefused,
    CookingFinished,
    CookingStarted,
    Event,
    StoredEvent,
    StoreOrderCancelled,
    StoreOrderReceived,
    StoreOrderRejected,
)
from .storage import JSONType, UTCDateTime, metadata
from .unit_of_work import UnitOfWork


class TicketStatus(StrEnum):
    NEW = "NEW"
    COOKING = "COOKING"
    READY = "READY"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


T = TicketStatus
TICKET_ALLOWED = {
    T.NEW: (T.COOKING, T.REJECTED, T.CANCELLED),
    T.COOKING: (T.READY,),
    T.READY: (),
    T.CANCELLED: (),
    T.REJECTED: (),
}

store_orders = sa.Table(
    "store_orders",
    metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("store_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("items", JSONType, nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("address", sa.String(500), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("ix_store_orders_store_status", "store_id", "status", "received_at"),
)


@dataclass
class StoreOrder:
    order_id: str
    store_id: str
    status: TicketStatus
    version: int
    reason: str | None = None
    events: list[Event] = field(default_factory=list)

    def _move(self, target: TicketStatus, attempted: str) -> None:
        if self.status is T.CANCELLED:
            raise Conflict(f"order {self.order_id} was cancelled by the customer; cannot {attempted}")
        if target not in TICKET_ALLOWED[self.status]:
            raise IllegalTransition("store order", self.order_id, self.status, attempted, [s.value for s in TICKET_ALLOWED[self.status]])
        self.status = target

    def _check_store(self, store_id: str) -> None:
        if store_id != self.store_id:
            raise NotPermitted(f"order {self.order_id} belongs to store {self.store_id}, not {store_id}")

    def accept(self, store_id: str) -> None:
        self._check_store(store_id)
        self._move(T.COOKING, "accept it (start cooking)")
        self.events.append(CookingStarted(order_id=self.order_id, store_id=self.store_id))

    def reject(self, store_id: str, reason: str) -> None:
        self._check_store(store_id)
        self._move(T.REJECTED, "reject it")
        self.reason = reason
        self.events.append(StoreOrderRejected(order_id=self.order_id, store_id=self.store_id, reason=reason))

    def mark_ready(self, store_id: str) -> None:
        self._check_store(store_id)
        self._move(T.READY, "mark it ready (cooking has not started)" if self.status is T.NEW else "mark it ready")
        self.events.append(CookingFinished(order_id=self.order_id, store_id=self.store_id))

    def decide_cancellation(self) -> None:
        """Cancel if cooking has not started; otherwise refuse and say why."""
        if self.status is T.NEW:
            self.status = T.CANCELLED
            self.reason = "cancelled by the customer"
            self.events.append(StoreOrderCancelled(order_id=self.order_id, store_id=self.store_id))
            return
        why = {
            T.COOKING: "the store has already started cooking",
            T.READY: "the food is already cooked and waiting for a rider",
            T.REJECTED: "the store had already rejected the order",
        }.get(self.status, f"the store order is {self.status}")
        self.events.append(CancellationRefused(order_id=self.order_id, store_id=self.store_id, reason=why))


_GET = sa.select(store_orders).where(store_orders.c.order_id == sa.bindparam("order_id")).with_for_update()
_ADD = store_orders.insert()
_SAVE = (
    store_orders.update()
    .where(store_orders.c.order_id == sa.bindparam("key_id"), store_orders.c.version == sa.bindparam("key_version"))
    .values(status=sa.bindparam("status"), reason=sa.bindparam("reason"), updated_at=sa.bindparam("updated_at"), version=sa.bindparam("version"))
)


def get(conn: sa.Connection, order_id: str) -> StoreOrder:
    row = conn.execute(_GET, {"order_id": order_id}).first()
    if row is None:
        raise NotFound(f"no store order {order_id!r} (unknown, or its payment was not approved)")
    return StoreOrder(row.order_id, row.store_id, T(row.status), row.version, row.reason)


def save(uow: UnitOfWork, ticket: StoreOrder) -> None:
    result = uow.conn.execute(
        _SAVE,
        {
            "key_id": ticket.order_id, "key_version": ticket.version, "status": ticket.status.value,
            "reason": ticket.reason, "updated_at": uow.now, "version": ticket.version + 1,
        },
    )
    if result.rowcount != 1:
        raise ConcurrencyConflict(f"store order {ticket.order_id} changed meanwhile")
    ticket.version += 1
    uow.collect(ticket)


def _act(bus: Any, order_id: str, store_id: str, action: str, *args: Any) -> dict[str, Any]:
    with bus.unit_of_work(actor=f"store:{store_id}") as uow:
        with catalog.known_if_refused(uow.conn, "store", store_id):  # a ticket accepts only its own store
            ticket = get(uow.conn, order_id)
            getattr(ticket, action)(store_id, *args)
        save(uow, ticket)
        uow.commit()
    return ticket_dict(ticket)


def accept_order(cmd: AcceptOrder, bus: Any) -> dict[str, Any]:
    return _act(bus, cmd.order_id, cmd.store_id, "accept")


def reject_order(cmd: RejectOrder, bus: Any) -> dict[str, Any]:
    reason = catalog.check_text("reason", cmd.reason, 500)
    return _act(bus, cmd.order_id, cmd.store_id, "reject", reason)


def mark_ready(cmd: MarkReady, bus: Any) -> dict[str, Any]:
    return _act(bus, cmd.order_id, cmd.store_id, "mark_ready")


def ticket_dict(ticket: StoreOrder) -> dict[str, Any]:
    return {"id": ticket.order_id, "order_id": ticket.order_id, "store_id": ticket.store_id, "status": ticket.status.value, "reason": ticket.reason}


# -- subscriber ---------------------------------------------------------------------------------


def _received(event: StoredEvent, uow: UnitOfWork) -> None:
    _receive(uow, [event.order_id], eventlog.placed(uow.conn, [event.order_id]))


def _receive(uow: UnitOfWork, order_ids: list[str], placed: dict[str, dict]) -> None:
    """Open a ticket for each paid order, copying what the order placed."""
    if not order_ids:
        return
    rows = []
    for order_id in order_ids:
        if order_id not in placed:
            raise NotFound(f"the event log has no OrderPlaced for order {order_id}")
        p = placed[order_id]
        rows.append(
            {
                "order_id": order_id, "store_id": p["store_id"], "status": T.NEW.value, "items": p["lines"], "total": p["total"],
                "address": p["address"], "reason": None, "received_at": uow.now, "updated_at": uow.now, "version": 1,
            }
        )
        uow.record(StoreOrderReceived(order_id=order_id, store_id=p["store_id"]))
    uow.conn.execute(_ADD, rows)


def _cancellation_requested(event: StoredEvent, uow: UnitOfWork) -> None:
    ticket = get(uow.conn, event.order_id)
    ticket.decide_cancellation()
    save(uow, ticket)


HANDLERS = {"PaymentApproved": _received, "OrderCancellationRequested": _cancellation_requested}


def apply_batch(events: list[StoredEvent], uow: UnitOfWork) -> None:
    """The handlers over a batch: the paid orders' OrderPlaced read at once and tickets opened together."""
    placed = eventlog.placed(uow.conn, [e.order_id for e in events if e.event_type == "PaymentApproved"])
    paid: list[str] = []
    for event in events:
        if event.event_type == "PaymentApproved":
            paid.append(event.order_id)
        else:  # a cancellation decides on the ticket: open the ones before it first
            _receive(uow, paid, placed)
            paid = []
            HANDLERS[event.event_type](event, uow)
    _receive(uow, paid, placed)


# -- queries ------------------------------------------------------------------------------------


def queue(conn: sa.Connection, store_id: str, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    catalog.get_store(conn, store_id)
    query = sa.select(store_orders).where(store_orders.c.store_id == store_id)
    if status is not None:
        query = query.where(store_orders.c.status == status)
    query = query.order_by(store_orders.c.received_at.desc(), store_orders.c.order_id.desc()).limit(limit)
    return [
        {
            "id": r.order_id,
            "order_id": r.order_id,
            "store_id": r.store_id,
            "status": r.status,
            "items": r.items,
            "total": r.total,
            "address": r.address,
            "reason": r.reason,
            "received_at": r.received_at.isoformat(),
            "updated_at": r.updated_at.isoformat(),
        }
        for r in conn.execute(query)
    ]


def queue_counts(conn: sa.Connection, store_id: str) -> dict[str, int]:
    """How many of a store's tickets are in each status (every status present, zero when none)."""
    catalog.get_store(conn, store_id)
    rows = conn.execute(
        sa.select(store_orders.c.status, sa.func.count()).where(store_orders.c.store_id == store_id).group_by(store_orders.c.status)
    )
    return {status.value: 0 for status in TicketStatus} | {status: count for status, count in rows}
