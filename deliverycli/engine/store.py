"""Store: the store's order list (kitchen tickets). The store is the authority on whether cooking
started, so it decides every cancellation request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import catalog, counters, eventlog
from .commands import AcceptOrder, ExpireAcceptance, MarkReady, RejectOrder
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
from .lifecycle import TicketStatus
from .validation import check_prep_min, check_text
from .storage import JSONType, UTCDateTime, metadata
from .views import StoreTicket, TicketState

if TYPE_CHECKING:
    from .messagebus import UnitOfWorkFactory
    from .unit_of_work import UnitOfWork

T = TicketStatus
TICKET_ALLOWED = {
    T.NEW: (T.COOKING, T.REJECTED, T.CANCELLED),
    T.COOKING: (T.READY,),
    T.READY: (T.PICKED_UP,),  # the delivery context's events move it on: a rider took it ...
    T.PICKED_UP: (T.DONE,),  # ... and delivered it
    T.DONE: (),
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
    sa.Column("prep_min", sa.Integer, nullable=True),
    sa.Column("ready_at", UTCDateTime, nullable=True),
    sa.Index("ix_store_orders_store_status", "store_id", "status", "received_at"),
    sa.Index("ix_store_orders_store_status_updated", "store_id", "status", "updated_at"),  # today's handed-over tickets
)

# Ticket statuses the store's "done" list holds: the kitchen has handed the food over.
HANDED_OVER = (T.PICKED_UP, T.DONE)



@dataclass
class StoreOrder:
    """A kitchen ticket: the store's side of a paid order."""

    order_id: str
    store_id: str
    status: TicketStatus
    version: int
    reason: str | None = None
    prep_min: int | None = None
    ready_at: datetime | None = None
    events: list[Event] = field(default_factory=list)

    def _move(self, target: TicketStatus, attempted: str) -> None:
        if self.status is T.CANCELLED:
            raise Conflict(f"order {self.order_id} was cancelled by the customer; cannot {attempted}")
        if self.status is T.REJECTED and self.reason == NOT_ACCEPTED:
            raise Conflict(f"order {self.order_id} was not accepted in time: the system rejected it and refunded the customer; cannot {attempted}")
        if target not in TICKET_ALLOWED[self.status]:
            raise IllegalTransition("store order", self.order_id, self.status, attempted, [s.value for s in TICKET_ALLOWED[self.status]])
        self.status = target

    def _check_store(self, store_id: str) -> None:
        if store_id != self.store_id:
            raise NotPermitted(f"order {self.order_id} belongs to store {self.store_id}, not {store_id}")

    def accept(self, store_id: str, prep_min: int | None = None, now: datetime | None = None) -> None:
        """Start cooking; the food should be ready ``prep_min`` minutes from ``now`` (no estimate without them)."""
        self._check_store(store_id)
        self._move(T.COOKING, "accept it (start cooking)")
        if prep_min is not None and now is not None:
            self.prep_min, self.ready_at = prep_min, now + timedelta(minutes=prep_min)
        self.events.append(CookingStarted(order_id=self.order_id, store_id=self.store_id, prep_min=prep_min, ready_at=self.ready_at))

    def reject(self, store_id: str, reason: str) -> None:
        """Refuse the order (it is then refunded)."""
        self._check_store(store_id)
        self._move(T.REJECTED, "reject it")
        self.reason = reason
        self.events.append(StoreOrderRejected(order_id=self.order_id, store_id=self.store_id, reason=reason))

    def mark_ready(self, store_id: str) -> None:
        """Cooking finished: the order waits for a rider."""
        self._check_store(store_id)
        self._move(T.READY, "mark it ready (cooking has not started)" if self.status is T.NEW else "mark it ready")
        self.events.append(CookingFinished(order_id=self.order_id, store_id=self.store_id))

    def follow_delivery(self, target: TicketStatus) -> None:
        """A rider picked the food up (PICKED_UP) or delivered it (DONE): the kitchen is done with it.
        A ticket already there (or past it) stays as it is."""
        order = list(T)
        if self.status in (T.READY, T.PICKED_UP) and order.index(target) > order.index(self.status):
            self.status = target

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
            T.PICKED_UP: "a rider is already on the way with it",
            T.DONE: "it has already been delivered",
            T.REJECTED: "the store had already rejected the order",
        }.get(self.status, f"the store order is {self.status}")
        if self.status is not T.REJECTED:
            why += ", so it can't be cancelled now"
        self.events.append(CancellationRefused(order_id=self.order_id, store_id=self.store_id, reason=why))


_GET = sa.select(store_orders).where(store_orders.c.order_id == sa.bindparam("order_id")).with_for_update()
_ADD = store_orders.insert()
_SAVE = (
    store_orders.update()
    .where(store_orders.c.order_id == sa.bindparam("key_id"), store_orders.c.version == sa.bindparam("key_version"))
    .values(
        status=sa.bindparam("status"), reason=sa.bindparam("reason"), prep_min=sa.bindparam("prep_min"), ready_at=sa.bindparam("ready_at"),
        updated_at=sa.bindparam("updated_at"), version=sa.bindparam("version"),
    )
)


class TicketRepository:
    """Kitchen tickets within one unit of work (``uow.tickets``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._stored: dict[str, TicketStatus] = {}  # each ticket's status as written, to move the store's counters

    def get(self, order_id: str) -> StoreOrder:
        """The ticket, locked for this unit; NotFound for an unknown or unpaid order."""
        row = self.uow.conn.execute(_GET, {"order_id": order_id}).first()
        if row is None:
            raise NotFound(f"no store order {order_id!r} (unknown, or its payment was not approved)")
        self._stored[row.order_id] = T(row.status)
        return StoreOrder(row.order_id, row.store_id, T(row.status), row.version, row.reason, row.prep_min, row.ready_at)

    def save(self, ticket: StoreOrder) -> None:
        """Write the ticket if nobody changed it since it was read (optimistic concurrency)."""
        result = self.uow.conn.execute(
            _SAVE,
            {
                "key_id": ticket.order_id, "key_version": ticket.version, "status": ticket.status.value,
                "reason": ticket.reason, "prep_min": ticket.prep_min, "ready_at": ticket.ready_at, "updated_at": self.uow.now,
                "version": ticket.version + 1,
            },
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict(f"store order {ticket.order_id} changed meanwhile")
        ticket.version += 1
        was = self._stored.get(ticket.order_id, ticket.status)
        if was is not ticket.status:  # the store's counts by status, in this transaction (``counters``)
            self.uow.count((counters.TICKET, ticket.store_id, was.value), -1)
            self.uow.count((counters.TICKET, ticket.store_id, ticket.status.value), +1)
            self._stored[ticket.order_id] = ticket.status
        self.uow.collect(ticket)

    def open(self, order_ids: list[str], placed: dict[str, dict]) -> None:
        """Open a NEW ticket for each paid order, copying what the order placed, and announce it."""
        if not order_ids:
            return
        rows = []
        now = self.uow.now
        for order_id in order_ids:
            if order_id not in placed:
                raise NotFound(f"the event log has no OrderPlaced for order {order_id}")
            p = placed[order_id]
            rows.append(
                {
                    "order_id": order_id, "store_id": p["store_id"], "status": T.NEW.value, "items": p["lines"], "total": p["total"],
                    "address": p["address"], "reason": None, "received_at": now, "updated_at": now, "version": 1, "prep_min": None,
                    "ready_at": None,
                }
            )
            self.uow.record(StoreOrderReceived(order_id=order_id, store_id=p["store_id"]))
            self.uow.count((counters.TICKET, p["store_id"], T.NEW.value), +1)
        self.uow.conn.execute(_ADD, rows)


def _act(unit_of_work: UnitOfWorkFactory, order_id: str, store_id: str, action: str, *args: Any) -> TicketState:
    with unit_of_work(f"store:{store_id}") as uow:
        if action == "accept":  # the store's own preparation time unless one was given
            args = (args[0] if args[0] is not None else uow.catalog.store(store_id).prep_min, uow.now)
        with uow.catalog.known_if_refused("store", store_id):  # a ticket accepts only its own store
            ticket = uow.tickets.get(order_id)
            getattr(ticket, action)(store_id, *args)
        uow.tickets.save(ticket)
        uow.commit()
    return TicketState(
        id=ticket.order_id, order_id=ticket.order_id, store_id=ticket.store_id, status=ticket.status, reason=ticket.reason,
        prep_min=ticket.prep_min, ready_at=ticket.ready_at,
    )


def accept_order(cmd: AcceptOrder, unit_of_work: UnitOfWorkFactory) -> TicketState:
    prep_min = check_prep_min(cmd.prep_min) if cmd.prep_min is not None else None
    return _act(unit_of_work, cmd.order_id, cmd.store_id, "accept", prep_min)


def reject_order(cmd: RejectOrder, unit_of_work: UnitOfWorkFactory) -> TicketState:
    reason = check_text("reason", cmd.reason, 500)
    return _act(unit_of_work, cmd.order_id, cmd.store_id, "reject", reason)


NOT_ACCEPTED = "not accepted in time"


def expire_acceptance(cmd: ExpireAcceptance, unit_of_work: UnitOfWorkFactory) -> TicketState:
    """The acceptance deadline: the system rejects a ticket still NEW, as its store would; refused
    (Conflict) when the store accepted, rejected, or the customer cancelled first."""
    with unit_of_work(cmd.actor) as uow:
        ticket = uow.tickets.get(cmd.order_id)
        ticket.reject(ticket.store_id, NOT_ACCEPTED)
        uow.tickets.save(ticket)
        uow.commit()
    return TicketState(id=ticket.order_id, order_id=ticket.order_id, store_id=ticket.store_id, status=ticket.status, reason=ticket.reason)


def mark_ready(cmd: MarkReady, unit_of_work: UnitOfWorkFactory) -> TicketState:
    return _act(unit_of_work, cmd.order_id, cmd.store_id, "mark_ready")


# -- subscriber ---------------------------------------------------------------------------------


def _received(event: StoredEvent, uow: UnitOfWork) -> None:
    uow.tickets.open([event.order_id], eventlog.placed(uow.conn, [event.order_id]))


def _cancellation_requested(event: StoredEvent, uow: UnitOfWork) -> None:
    ticket = uow.tickets.get(event.order_id)
    ticket.decide_cancellation()
    uow.tickets.save(ticket)


def _delivery_moved(event: StoredEvent, uow: UnitOfWork) -> None:
    ticket = uow.tickets.get(event.order_id)
    before = ticket.status
    ticket.follow_delivery(T.PICKED_UP if event.event_type == "DeliveryPickedUp" else T.DONE)
    if ticket.status is not before:
        uow.tickets.save(ticket)


HANDLERS = {
    "PaymentApproved": _received, "OrderCancellationRequested": _cancellation_requested,
    "DeliveryPickedUp": _delivery_moved, "DeliveryCompleted": _delivery_moved,
}


def apply_batch(events: list[StoredEvent], uow: UnitOfWork) -> None:
    """The handlers over a batch: the paid orders' OrderPlaced read at once and tickets opened together."""
    placed = eventlog.placed(uow.conn, [e.order_id for e in events if e.event_type == "PaymentApproved"])
    paid: list[str] = []
    for event in events:
        if event.event_type == "PaymentApproved":
            paid.append(event.order_id)
        else:  # a cancellation decides on the ticket: open the ones before it first
            uow.tickets.open(paid, placed)
            paid = []
            HANDLERS[event.event_type](event, uow)
    uow.tickets.open(paid, placed)


# -- queries ------------------------------------------------------------------------------------


def queue(
    conn: sa.Connection, store_id: str, status: str | None = None, limit: int = 200, since: datetime | None = None
) -> list[StoreTicket]:
    """The store's tickets, newest first (only those in ``status`` if given, and with ``since`` only
    those handed over since then); NotFound for an unknown store."""
    catalog.get_store(conn, store_id)
    query = sa.select(store_orders).where(store_orders.c.store_id == store_id)
    if status is not None:
        query = query.where(store_orders.c.status == status)
    if since is not None:
        query = query.where(sa.or_(store_orders.c.status.not_in([s.value for s in HANDED_OVER]), store_orders.c.updated_at >= since))
    query = query.order_by(store_orders.c.received_at.desc(), store_orders.c.order_id.desc()).limit(limit)
    return [
        StoreTicket(
            id=r.order_id, order_id=r.order_id, store_id=r.store_id, status=r.status, items=r.items, total=r.total,
            address=r.address, reason=r.reason, received_at=r.received_at, updated_at=r.updated_at, prep_min=r.prep_min,
            ready_at=r.ready_at,
        )
        for r in conn.execute(query)
    ]


def queue_counts(conn: sa.Connection, store_id: str, since: datetime | None = None) -> dict[str, int]:
    """How many of a store's tickets are in each status (every status present, zero when none), from
    the store's counters (``counters``): no scan of its tickets. With ``since``, the handed-over ones
    (PICKED_UP, DONE) only since then ("today's"): a range of ``ix_store_orders_store_status_updated``,
    as long as a day, not the store's history."""
    catalog.get_store(conn, store_id)
    counts = {status.value: 0 for status in TicketStatus} | counters.read(conn, counters.TICKET, store_id)
    if since is not None:
        handed_over = [s.value for s in HANDED_OVER]
        rows = conn.execute(
            sa.select(store_orders.c.status, sa.func.count())
            .where(store_orders.c.store_id == store_id, store_orders.c.status.in_(handed_over), store_orders.c.updated_at >= since)
            .group_by(store_orders.c.status)
        )
        counts |= dict.fromkeys(handed_over, 0) | {status: count for status, count in rows}
    return counts
