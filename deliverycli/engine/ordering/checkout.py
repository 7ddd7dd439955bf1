"""Checkout: placing an order and paying for it, the one synchronous step between two contexts.

The order is committed (PENDING_PAYMENT) before the payment call, so a crash during the call
leaves a trace; the outcome is then recorded and the order moved to PAID or REJECTED in one
transaction. ``resolve_interrupted_payments`` settles the orders a crash cut off, by asking the
payment provider about the order id (the idempotency key).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..catalog import closed_reason
from ..commands import PlaceOrder
from ..errors import ConcurrencyConflict, Conflict, InvalidInput, NotFound, PaymentFailed
from ..events import OrderLine
from ..lifecycle import OrderStatus
from ..payment.port import DEFAULT_CARD
from ..validation import check_idempotency_key, check_items, check_text, parse_card, request_fingerprint
from ..views import OrderView
from .model import Order
from .repository import pending_payment_before

if TYPE_CHECKING:
    from ..messagebus import UnitOfWorkFactory
    from ..payment.service import ChargeOutcome, PaymentService
    from ..unit_of_work import UnitOfWork

S = OrderStatus
SETTLE_RETRIES = 20
# How long past its timeout a payment call may still be in flight in another process (a stalled
# one): recovery and reconciliation leave a payment alone until then.
IN_FLIGHT_GRACE_S = 5.0


def _lines(uow: UnitOfWork, store_id: str, items: list[tuple[str, int]]) -> list[OrderLine]:
    """The order's lines at today's prices: each item of the store, available, in a sane quantity."""
    quantities = check_items(items)
    menu = uow.catalog.menu_items(list(quantities))
    lines = []
    for menu_item_id, quantity in quantities.items():
        item = menu.get(menu_item_id)
        if item is None:
            raise NotFound(f"no menu item {menu_item_id!r}")
        if item["store_id"] != store_id:
            raise InvalidInput(f"menu item {menu_item_id!r} is sold by {item['store_id']}, not {store_id}")
        if not item["available"]:
            raise Conflict(f"{item['name']} ({menu_item_id}) is sold out right now; order it again once the store has more")
        lines.append(OrderLine(menu_item_id=menu_item_id, name=item["name"], unit_price=item["price"], quantity=quantity))
    return lines


def place_order(cmd: PlaceOrder, unit_of_work: UnitOfWorkFactory, payments: PaymentService, currency: str) -> OrderView:
    """Create the order, charge synchronously, and settle it as PAID or REJECTED (see the module docstring)."""
    card = parse_card(cmd.card, DEFAULT_CARD)
    address = check_text("address", cmd.address, 500)
    key = check_idempotency_key(cmd.idempotency_key)
    fingerprint = request_fingerprint(cmd.customer_id, cmd.store_id, check_items(cmd.items), address, card) if key is not None else None
    actor = f"customer:{cmd.customer_id}"
    with unit_of_work(actor) as uow:
        existing = uow.orders.by_idempotency_key(key) if key is not None else None
        if existing is None:
            admission = payments.ensure_available(uow.conn)
            uow.catalog.customer(cmd.customer_id)
            closed = closed_reason(uow.catalog.store(cmd.store_id))
            if closed is not None:
                raise Conflict(f"{closed}; no order was placed and nothing was charged")
            lines = _lines(uow, cmd.store_id, list(cmd.items))
            order = Order.place(uow.orders.next_id(), cmd.customer_id, cmd.store_id, address, lines, currency, uow.now, key, fingerprint)
            try:
                uow.orders.add(order)
            except sa.exc.IntegrityError as exc:  # the same key, placed meanwhile by another process
                raise ConcurrencyConflict(f"idempotency key {key} was just used") from exc
            uow.commit()
    if existing is not None:
        return _retry_placement(unit_of_work, payments, existing, cmd, card, actor, fingerprint)
    outcome = payments.charge(order.id, order.total, card, admission)
    return _paid_or_raise(settle_payment(unit_of_work, payments, order.id, outcome, actor=actor), order.lines, outcome.unavailable)


def _paid_or_raise(settled: Order, lines: list[OrderLine], unavailable: bool) -> OrderView:
    """The placed order as the caller sees it (with its lines), or the payment's refusal."""
    if settled.status is S.REJECTED:
        raise PaymentFailed(f"order {settled.id} was rejected: {settled.reason}", order_id=settled.id, unavailable=unavailable)
    settled.lines = lines
    return settled.view()


def _retry_placement(
    unit_of_work: UnitOfWorkFactory, payments: PaymentService, order: Order, cmd: PlaceOrder, card: str, actor: str, fingerprint: str | None
) -> OrderView:
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
        return _paid_or_raise(settle_payment(unit_of_work, payments, order.id, outcome, actor=actor), order.lines, outcome.unavailable)
    return _paid_or_raise(order, order.lines, unavailable=False)


def settle_payment(unit_of_work: UnitOfWorkFactory, payments: PaymentService, order_id: str, outcome: ChargeOutcome, actor: str) -> Order:
    """Record a charge's outcome and move the order to PAID or REJECTED, in one transaction."""
    for _ in range(SETTLE_RETRIES):
        try:
            with unit_of_work(actor) as uow:
                order = uow.orders.get(order_id)
                if order.status is not S.PENDING_PAYMENT:
                    if outcome.approved and order.status is S.REJECTED:  # charged after recovery gave up on it
                        uow.payments.refund_late_charge(order_id, payments)
                        uow.commit()
                    return order
                uow.payments.record_charge(order_id, order.total, outcome, check_after_s=payments.timeout_s + IN_FLIGHT_GRACE_S)
                if outcome.approved:
                    order.mark_paid()
                else:
                    order.reject(outcome.reason)
                uow.orders.save(order)
                uow.commit()
                return order
        except ConcurrencyConflict:
            continue
    raise Conflict(f"order {order_id} kept changing while its payment was recorded")


def resolve_interrupted_payments(
    db: sa.Engine, unit_of_work: UnitOfWorkFactory, payments: PaymentService, cutoff: datetime
) -> list[str]:
    """Settle orders placed before ``cutoff`` whose payment call never came back (a crash): the
    payment provider's record of the order id decides."""
    with db.connect() as conn, conn.execution_options(readonly=True).begin():
        stuck = pending_payment_before(conn, cutoff)
    resolved = []
    for order_id in stuck:
        outcome = payments.recover(order_id)
        if outcome is not None:  # None: the provider cannot be asked now; the order waits for a later try
            settle_payment(unit_of_work, payments, order_id, outcome, actor="system:recovery")
            resolved.append(order_id)
    return resolved
