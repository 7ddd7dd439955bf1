"""Ordering: the Order aggregate, placing orders (with the synchronous payment call), cancelling and
confirming, and the order side of the sagas that follows the other contexts' events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from . import catalog, payment
from .commands import CancelOrder, ConfirmDelivery, PlaceOrder
from .errors import ConcurrencyConflict, Conflict, IllegalTransition, InvalidInput, NotFound, NotPermitted, PaymentFailed
from .events import (
    DeliveryConfirmed,
    Event,
    OrderCancellationRequested,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    StoredEvent,
)
from .lifecycle import ALLOWED, OrderStatus, follow
from .storage import UTCDateTime, metadata, utcnow
from .unit_of_work import UnitOfWork
from .validation import check_idempotency_key, check_items, check_text, parse_card, request_fingerprint

S = OrderStatus

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False, index=True),
    sa.Column("store_id", sa.String(64), nullable=False, index=True),
    sa.Column("address", sa.String(500), nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("resume_status", sa.String(32), nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("placed_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=True, unique=True, index=True),
    sa.Column("request_fingerprint", sa.String(64), nullable=True),  # of a keyed placement: validation.request_fingerprint
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("menu_item_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("unit_price", sa.Integer, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
)

order_numbers = sa.Table(
    "order_numbers",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("last", sa.BigInteger, nullable=False),
)


@dataclass
class Order:
    id: str
    customer_id: str
    store_id: str
    address: str
    lines: list[OrderLine]
    total: int
    currency: str
    status: OrderStatus
    placed_at: datetime
    resume_status: OrderStatus | None = None
    reason: str | None = None
    version: int = 0
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    events: list[Event] = field(default_factory=list)

    @classmethod
    def place(
        cls, id: str, customer_id: str, store_id: str, address: str, lines: list[OrderLine], currency: str, at: datetime,
        idempotency_key: str | None = None, request_fingerprint: str | None = None,
    ) -> Order:
        total = sum(line.unit_price * line.quantity for line in lines)
        order = cls(
            id, customer_id, store_id, address, lines, total, currency, S.PENDING_PAYMENT, at,
            idempotency_key=idempotency_key, request_fingerprint=request_fingerprint,
        )
        order.events.append(
            OrderPlaced(order_id=id, customer_id=customer_id, store_id=store_id, lines=lines, total=total, currency=currency, address=address)
        )
        return order

    def _move(self, target: OrderStatus, attempted: str) -> None:
        if target not in ALLOWED[self.status]:
            raise IllegalTransition("order", self.id, self.status, attempted, [s.value for s in ALLOWED[self.status]])
        self.status = target

    def mark_paid(self) -> None:
        self._move(S.PAID, "mark it paid")

    def reject(self, reason: str) -> None:
        self._move(S.REJECTED, "reject it")
        self.reason = reason
        self.events.append(OrderRejected(order_id=self.id, reason=reason))

    def request_cancellation(self, customer_id: str) -> None:
        if customer_id != self.customer_id:
            raise NotPermitted(f"only the customer who placed order {self.id} may cancel it")
        if self.status is S.CANCEL_PENDING:
            raise Conflict(f"order {self.id} already has a cancellation pending; the store has not answered yet")
        if self.status in (S.COOKING, S.READY_FOR_PICKUP, S.DELIVERING, S.DELIVERED):
            raise IllegalTransition(
                "order", self.id, self.status, "cancel it: the store has already started cooking", [s.value for s in ALLOWED[self.status]]
            )
        self._move(S.CANCEL_PENDING, "cancel it")
        self.resume_status = S.PAID
        self.events.append(OrderCancellationRequested(order_id=self.id, customer_id=customer_id))

    def confirm_delivery(self, customer_id: str) -> None:
        if customer_id != self.customer_id:
            raise NotPermitted(f"only the customer who placed order {self.id} may confirm its delivery")
        self._move(S.CONFIRMED, "confirm delivery (it has not been delivered)")
        self.events.append(DeliveryConfirmed(order_id=self.id, customer_id=customer_id))

    def follow(self, event_type: str) -> None:
        """Follow a fact another context recorded (cooking, delivery, a refused cancellation)."""
        self.status, self.resume_status = follow(self.status, self.resume_status, event_type)

    def cancel(self) -> None:
        if self.status is S.CANCELLED:
            return
        self.reason = self.reason or "cancelled at the customer's request"
        self._move(S.CANCELLED, "cancel it")
        self.resume_status = None
        self.events.append(OrderCancelled(order_id=self.id, reason=self.reason))


# -- repository ---------------------------------------------------------------------------------


# Hot statements are built once: constructing them per call costs more than SQLite takes to run them.
_GET = sa.select(orders).where(orders.c.id == sa.bindparam("order_id"))
_GET_FOR_UPDATE = _GET.with_for_update()
_GET_MANY_FOR_UPDATE = (
    sa.select(orders).where(orders.c.id.in_(sa.bindparam("order_ids", expanding=True))).order_by(orders.c.id).with_for_update()
)
_LINES = sa.select(order_lines).where(order_lines.c.order_id == sa.bindparam("order_id")).order_by(order_lines.c.line_no)
_SAVE = (
    orders.update()
    .where(orders.c.id == sa.bindparam("key_id"), orders.c.version == sa.bindparam("key_version"))
    .values(
        status=sa.bindparam("status"),
        resume_status=sa.bindparam("resume_status"),
        reason=sa.bindparam("reason"),
        updated_at=sa.bindparam("updated_at"),
        version=sa.bindparam("version"),
    )
)
_BY_IDEMPOTENCY_KEY = sa.select(orders.c.id).where(orders.c.idempotency_key == sa.bindparam("key"))
_ADD = orders.insert()
_ADD_LINES = order_lines.insert()
_NEXT_NUMBER = (
    order_numbers.update()
    .where(order_numbers.c.name == "order")
    .values(last=order_numbers.c.last + 1)
    .returning(order_numbers.c.last)
)


def get(conn: sa.Connection, order_id: str, *, for_update: bool = True, with_lines: bool = False) -> Order:
    """Load an order (its lines only if asked); by default lock its row since the caller means to change it."""
    row = conn.execute(_GET_FOR_UPDATE if for_update else _GET, {"order_id": order_id}).first()
    if row is None:
        raise NotFound(f"no order {order_id!r}")
    lines = [
        OrderLine(menu_item_id=l.menu_item_id, name=l.name, unit_price=l.unit_price, quantity=l.quantity)
        for l in conn.execute(_LINES, {"order_id": order_id})
    ] if with_lines else []
    return _order(row, lines)


def get_many(conn: sa.Connection, order_ids: list[str]) -> list[Order]:
    """Load and lock several orders (without their lines), in id order."""
    return [_order(row, []) for row in conn.execute(_GET_MANY_FOR_UPDATE, {"order_ids": order_ids})]


def _order(row: sa.Row, lines: list[OrderLine]) -> Order:
    # Unpacked by position (the table's column order): a Row's attribute lookups cost more.
    id_, customer_id, store_id, address, total, currency, status, resume_status, reason, placed_at, _, version, key, fingerprint = row
    return Order(
        id=id_, customer_id=customer_id, store_id=store_id, address=address, lines=lines, total=total, currency=currency,
        status=S(status), placed_at=placed_at, resume_status=S(resume_status) if resume_status else None, reason=reason,
        version=version, idempotency_key=key, request_fingerprint=fingerprint,
    )


def add(uow: UnitOfWork, order: Order) -> None:
    uow.conn.execute(
        _ADD,
        {
            "id": order.id, "customer_id": order.customer_id, "store_id": order.store_id, "address": order.address,
            "total": order.total, "currency": order.currency, "status": order.status.value, "resume_status": None,
            "reason": None, "placed_at": order.placed_at, "updated_at": order.placed_at, "version": 1,
            "idempotency_key": order.idempotency_key, "request_fingerprint": order.request_fingerprint,
        },
    )
    uow.conn.execute(
        _ADD_LINES,
        [
            {"order_id": order.id, "line_no": n, "menu_item_id": l.menu_item_id, "name": l.name, "unit_price": l.unit_price, "quantity": l.quantity}
            for n, l in enumerate(order.lines, start=1)
        ],
    )
    order.version = 1
    uow.collect(order)


def save(uow: UnitOfWork, order: Order) -> None:
    """Write the order if nobody changed it since it was read (optimistic concurrency)."""
    result = uow.conn.execute(_SAVE, _save_params(order, uow.now))
    if result.rowcount != 1:
        raise ConcurrencyConflict(f"order {order.id} changed meanwhile")
    order.version += 1
    uow.collect(order)


def _save_params(order: Order, now: datetime) -> dict[str, Any]:
    return {
        "key_id": order.id,
        "key_version": order.version,
        "status": order.status.value,
        "resume_status": order.resume_status.value if order.resume_status else None,
        "reason": order.reason,
        "updated_at": now,
        "version": order.version + 1,
    }


def next_order_id(conn: sa.Connection) -> str:
    """The next readable order id; the counter row (created by the first migration) serialises writers."""
    number = conn.execute(_NEXT_NUMBER).scalar_one()
    return f"ord-{number:06d}"


def as_dict(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "status": order.status.value,
        "customer_id": order.customer_id,
        "store_id": order.store_id,
        "total": order.total,
        "currency": order.currency,
        "address": order.address,
        "reason": order.reason,
        "placed_at": order.placed_at.isoformat(),
        "items": [line.model_dump() for line in order.lines],
    }


# -- command handlers ---------------------------------------------------------------------------


def _lines(conn: sa.Connection, store_id: str, items: list[tuple[str, int]]) -> list[OrderLine]:
    quantities = check_items(items)
    menu = catalog.menu_items_by_id(conn, list(quantities))
    lines = []
    for menu_item_id, quantity in quantities.items():
        item = menu.get(menu_item_id)
        if item is None:
            raise NotFound(f"no menu item {menu_item_id!r}")
        if item["store_id"] != store_id:
            raise InvalidInput(f"menu item {menu_item_id!r} is sold by {item['store_id']}, not {store_id}")
        if not item["available"]:
            raise Conflict(f"menu item {menu_item_id!r} is not available right now")
        lines.append(OrderLine(menu_item_id=menu_item_id, name=item["name"], unit_price=item["price"], quantity=quantity))
    return lines


def place_order(cmd: PlaceOrder, bus: Any, payments: payment.PaymentService, currency: str) -> dict[str, Any]:
    """Create the order, charge synchronously, and settle it as PAID or REJECTED.

    The order is committed (PENDING_PAYMENT) before the charge, so a crash during the call leaves a
    trace that start-up recovery resolves by asking the gateway with the order id.
    """
    card = parse_card(cmd.card, payment.DEFAULT_CARD)
    address = check_text("address", cmd.address, 500)
    key = check_idempotency_key(cmd.idempotency_key)
    fingerprint = request_fingerprint(cmd.customer_id, cmd.store_id, check_items(cmd.items), address, card) if key is not None else None
    actor = f"customer:{cmd.customer_id}"
    with bus.unit_of_work(actor=actor) as uow:
        existing = find_by_idempotency_key(uow.conn, key) if key is not None else None
        if existing is None:
            breaker = payments.ensure_available(uow.conn)
            catalog.get_customer(uow.conn, cmd.customer_id)
            catalog.get_store(uow.conn, cmd.store_id)
            lines = _lines(uow.conn, cmd.store_id, list(cmd.items))
            order = Order.place(next_order_id(uow.conn), cmd.customer_id, cmd.store_id, address, lines, currency, uow.now, key, fingerprint)
            try:
                add(uow, order)
            except sa.exc.IntegrityError as exc:  # the same key, placed meanwhile by another process
                raise ConcurrencyConflict(f"idempotency key {key} was just used") from exc
            uow.commit()
    if existing is not None:
        return _retry_placement(bus, payments, existing, cmd, card, actor, fingerprint)
    outcome = payments.charge(order.id, order.total, card, breaker_row=breaker)
    return _paid_or_raise(settle_payment(bus, payments, order.id, outcome, actor=actor), order.lines, outcome.unavailable)


def _paid_or_raise(settled: Order, lines: list[OrderLine], unavailable: bool) -> dict[str, Any]:
    """The placed order as the caller sees it (with its lines), or the payment's refusal."""
    if settled.status is S.REJECTED:
        raise PaymentFailed(f"order {settled.id} was rejected: {settled.reason}", order_id=settled.id, unavailable=unavailable)
    settled.lines = lines
    return as_dict(settled)


def _retry_placement(
    bus: Any, payments: payment.PaymentService, order: Order, cmd: PlaceOrder, card: str, actor: str, fingerprint: str | None
) -> dict[str, Any]:
    """A placement retried with its idempotency key: the same order, charged at most once."""
    if (order.customer_id, order.store_id) != (cmd.customer_id, cmd.store_id):
        raise Conflict(f"idempotency key {order.idempotency_key!r} was already used for order {order.id} of another customer or store")
    if order.request_fingerprint is not None and order.request_fingerprint != fingerprint:  # None: placed before fingerprints
        raise Conflict(
            f"idempotency key {order.idempotency_key!r} was already used for order {order.id} with other items, address or card; "
            "a new order needs a new key"
        )
    if order.status is S.PENDING_PAYMENT:  # the first attempt was cut off during its payment call
        outcome = payments.charge(order.id, order.total, card)  # the gateway charges a key once
        return _paid_or_raise(settle_payment(bus, payments, order.id, outcome, actor=actor), order.lines, outcome.unavailable)
    return _paid_or_raise(order, order.lines, unavailable=False)


def find_by_idempotency_key(conn: sa.Connection, key: str) -> Order | None:
    order_id = conn.execute(_BY_IDEMPOTENCY_KEY, {"key": key}).scalar()
    return get(conn, order_id, for_update=False, with_lines=True) if order_id else None


def settle_payment(bus: Any, payments: payment.PaymentService, order_id: str, outcome: payment.ChargeOutcome, actor: str) -> Order:
    """Record a charge's outcome and move the order to PAID or REJECTED, in one transaction."""
    for _ in range(20):
        try:
            with bus.unit_of_work(actor=actor) as uow:
                order = get(uow.conn, order_id)
                if order.status is not S.PENDING_PAYMENT:
                    if outcome.approved and order.status is S.REJECTED:
                        payments.refund_orphan(order_id, order.total)  # charged after recovery gave up on it
                    return order
                payment.record_charge(uow, order_id, order.total, outcome)
                if outcome.approved:
                    order.mark_paid()
                else:
                    order.reject(outcome.reason)
                save(uow, order)
                uow.commit()
                return order
        except ConcurrencyConflict:
            continue
    raise Conflict(f"order {order_id} kept changing while its payment was recorded")


def resolve_interrupted_payments(bus: Any, payments: payment.PaymentService, older_than: timedelta) -> list[str]:
    """Settle orders whose payment call was cut off (a crash): ask the gateway by the order id."""
    with bus.engine.connect() as conn, conn.execution_options(readonly=True).begin():
        cutoff = utcnow() - older_than
        stuck = conn.execute(
            sa.select(orders.c.id).where(orders.c.status == S.PENDING_PAYMENT.value, orders.c.placed_at < cutoff)
        ).scalars().all()
    for order_id in stuck:
        settle_payment(bus, payments, order_id, payments.recover(order_id), actor="system:recovery")
    return list(stuck)


def cancel_order(cmd: CancelOrder, bus: Any) -> dict[str, Any]:
    with bus.unit_of_work(actor=f"customer:{cmd.customer_id}") as uow:
        with catalog.known_if_refused(uow.conn, "customer", cmd.customer_id):  # only its customer cancels an order
            order = get(uow.conn, cmd.order_id)
            order.request_cancellation(cmd.customer_id)
        save(uow, order)
        uow.commit()
    return {"id": order.id}


def confirm_delivery(cmd: ConfirmDelivery, bus: Any) -> dict[str, Any]:
    with bus.unit_of_work(actor=f"customer:{cmd.customer_id}") as uow:
        with catalog.known_if_refused(uow.conn, "customer", cmd.customer_id):  # only its customer confirms
            order = get(uow.conn, cmd.order_id, with_lines=True)
            order.confirm_delivery(cmd.customer_id)
        save(uow, order)
        uow.commit()
    return as_dict(order)


def load(conn: sa.Connection, order_id: str) -> dict[str, Any]:
    return as_dict(get(conn, order_id, for_update=False, with_lines=True))


# -- the order side of the sagas ----------------------------------------------------------------


def _follow(order: Order, event: StoredEvent) -> None:
    order.follow(event.event_type)


def _store_rejected(order: Order, event: StoredEvent) -> None:
    order.reason = f"rejected by the store: {event.payload['reason']}"


def _refunded(order: Order, event: StoredEvent) -> None:
    order.cancel()


SAGA_STEPS = {
    "CookingStarted": _follow,
    "CookingFinished": _follow,
    "DeliveryPickedUp": _follow,
    "DeliveryCompleted": _follow,
    "CancellationRefused": _follow,
    "StoreOrderRejected": _store_rejected,
    "PaymentRefunded": _refunded,
}


def _saga_handler(step: Any) -> Any:
    def handle(event: StoredEvent, uow: UnitOfWork) -> None:
        order = get(uow.conn, event.order_id)
        step(order, event)
        save(uow, order)

    return handle


SAGA_HANDLERS = {event_type: _saga_handler(step) for event_type, step in SAGA_STEPS.items()}


def apply_saga_batch(events: list[StoredEvent], uow: UnitOfWork) -> None:
    """The saga steps over a batch: each order is read (and locked) once and written once."""
    conn = uow.conn
    wanted = sorted({event.order_id for event in events})
    loaded = {order.id: order for order in get_many(conn, wanted)}
    for event in events:
        order = loaded.get(event.order_id)
        if order is None:
            raise NotFound(f"no order {event.order_id!r}")
        SAGA_STEPS[event.event_type](order, event)
    changed = [loaded[order_id] for order_id in wanted]
    result = conn.execute(_SAVE, [_save_params(order, uow.now) for order in changed])
    if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(changed):
        raise ConcurrencyConflict("orders changed meanwhile")
    for order in changed:
        order.version += 1
        uow.collect(order)
