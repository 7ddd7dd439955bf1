"""The ordering context's commands after checkout (cancel, confirm), and its side of the sagas:
following the facts the store, delivery and payment contexts record."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..commands import AutoConfirmDelivery, CancelOrder, ConfirmDelivery
from ..errors import NotFound, NotYet
from ..lifecycle import OrderStatus
from ..events import StoredEvent
from ..views import OrderView
from .model import Order

if TYPE_CHECKING:
    from ..messagebus import UnitOfWorkFactory
    from ..unit_of_work import UnitOfWork


def cancel_order(cmd: CancelOrder, unit_of_work: UnitOfWorkFactory) -> OrderView:
    """Ask to cancel; the store decides when its subscriber takes the request."""
    with unit_of_work(f"customer:{cmd.customer_id}") as uow:
        with uow.catalog.known_if_refused("customer", cmd.customer_id):  # only its customer cancels an order
            order = uow.orders.get(cmd.order_id, with_lines=True)
            refusal = order.request_cancellation(cmd.customer_id)
        uow.orders.save(order)
        uow.commit()
    if refusal is not None:  # recorded (the store hears of it); the customer is told why
        raise refusal
    return order.view()


def confirm_delivery(cmd: ConfirmDelivery, unit_of_work: UnitOfWorkFactory) -> OrderView:
    """The customer confirms the delivery arrived."""
    with unit_of_work(f"customer:{cmd.customer_id}") as uow:
        with uow.catalog.known_if_refused("customer", cmd.customer_id):  # only its customer confirms
            order = uow.orders.get(cmd.order_id, with_lines=True)
            order.confirm_delivery(cmd.customer_id)
        uow.orders.save(order)
        uow.commit()
    return order.view()


def auto_confirm(cmd: AutoConfirmDelivery, unit_of_work: UnitOfWorkFactory) -> OrderView:
    """The confirmation deadline: the system confirms a delivered order for its customer; refused
    (IllegalTransition) once the customer confirmed; NotYet while this context still has the order
    on the road (its saga has not followed DeliveryCompleted)."""
    with unit_of_work(cmd.actor) as uow:
        order = uow.orders.get(cmd.order_id, with_lines=True)
        if order.status is OrderStatus.DELIVERING:
            raise NotYet(f"order {cmd.order_id} is not delivered yet as the ordering context knows it")
        order.confirm_delivery(order.customer_id)
        uow.orders.save(order)
        uow.commit()
    return order.view()


# -- the order side of the sagas ----------------------------------------------------------------


def _follow(order: Order, event: StoredEvent) -> None:
    order.follow(event.event_type)


def _store_rejected(order: Order, event: StoredEvent) -> None:
    order.reason = f"rejected by the store: {event.payload['reason']}"


def _refunded(order: Order, event: StoredEvent) -> None:
    order.cancel()


SAGA_STEPS: dict[str, Callable[[Order, StoredEvent], None]] = {
    "CookingStarted": _follow,
    "CookingFinished": _follow,
    "DeliveryPickedUp": _follow,
    "DeliveryCompleted": _follow,
    "CancellationRefused": _follow,
    "StoreOrderRejected": _store_rejected,
    "PaymentRefunded": _refunded,
}


def _saga_handler(step: Callable[[Order, StoredEvent], None]) -> Callable[[StoredEvent, UnitOfWork], None]:
    def handle(event: StoredEvent, uow: UnitOfWork) -> None:
        order = uow.orders.get(event.order_id)
        step(order, event)
        uow.orders.save(order)

    return handle


SAGA_HANDLERS = {event_type: _saga_handler(step) for event_type, step in SAGA_STEPS.items()}


def apply_saga_batch(events: list[StoredEvent], uow: UnitOfWork) -> None:
    """The saga steps over a batch: each order is read (and locked) once and written once."""
    loaded = uow.orders.get_many([event.order_id for event in events])
    for event in events:
        order = loaded.get(event.order_id)
        if order is None:
            raise NotFound(f"no order {event.order_id!r}")
        SAGA_STEPS[event.event_type](order, event)
    uow.orders.save_many([loaded[order_id] for order_id in sorted(loaded)])
