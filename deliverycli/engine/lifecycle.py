"""The statuses of orders, kitchen tickets and deliveries, the order status rules of SPEC §5, and the
one fold of the event log into an order's status.

The Order aggregate, the status view, notifications, the rebuild, the invariant check and the tests
all read an order's status the same way: ``OrderState.apply(event)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .events import StoredEvent


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    COOKING = "COOKING"
    READY_FOR_PICKUP = "READY_FOR_PICKUP"
    DELIVERING = "DELIVERING"
    DELIVERED = "DELIVERED"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    CANCEL_PENDING = "CANCEL_PENDING"
    CANCELLED = "CANCELLED"


class TicketStatus(StrEnum):
    """A store's kitchen ticket for a paid order."""

    NEW = "NEW"
    COOKING = "COOKING"
    READY = "READY"  # cooked, waiting for a rider
    PICKED_UP = "PICKED_UP"  # a rider took it: the kitchen is done with it
    DONE = "DONE"  # delivered
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


class DeliveryStatus(StrEnum):
    """An order on the delivery list."""

    AVAILABLE = "AVAILABLE"
    PICKED_UP = "PICKED_UP"
    COMPLETED = "COMPLETED"


S = OrderStatus

# Every transition the status may take. CANCEL_PENDING returns to the fulfilment line when refused.
ALLOWED: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    S.PENDING_PAYMENT: (S.PAID, S.REJECTED),
    S.PAID: (S.COOKING, S.CANCEL_PENDING, S.CANCELLED),
    S.COOKING: (S.READY_FOR_PICKUP,),
    S.READY_FOR_PICKUP: (S.DELIVERING,),
    S.DELIVERING: (S.DELIVERED,),
    S.DELIVERED: (S.CONFIRMED,),
    S.CONFIRMED: (),
    S.REJECTED: (),
    S.CANCEL_PENDING: (S.CANCELLED, S.PAID, S.COOKING, S.READY_FOR_PICKUP),
    S.CANCELLED: (),
}

FINAL = frozenset({S.CONFIRMED, S.REJECTED, S.CANCELLED})

# The fulfilment line status each event moves an order to.
STATUS_AFTER_EVENT: dict[str, OrderStatus] = {
    "OrderPlaced": S.PENDING_PAYMENT,
    "PaymentApproved": S.PAID,
    "OrderRejected": S.REJECTED,
    "CookingStarted": S.COOKING,
    "CookingFinished": S.READY_FOR_PICKUP,
    "DeliveryPickedUp": S.DELIVERING,
    "DeliveryCompleted": S.DELIVERED,
    "DeliveryConfirmed": S.CONFIRMED,
    "OrderCancellationRequested": S.CANCEL_PENDING,
    "OrderCancelled": S.CANCELLED,
}

def follow(status: OrderStatus | None, resume: OrderStatus | None, event_type: str) -> tuple[OrderStatus | None, OrderStatus | None]:
    """Return (status, resume_status) after an event, as seen by a reader of the event log.

    While a cancellation is pending, fulfilment events only move the status the order returns to
    if the store refuses (``resume``); a refusal restores it.
    """
    if status in FINAL:
        return status, resume  # final statuses are absorbing: a late refusal must not revive a cancelled order
    if event_type == "CancellationRefused":
        return (resume or S.PAID), None
    target = STATUS_AFTER_EVENT.get(event_type)
    if target is None:
        return status, resume
    if target is S.CANCEL_PENDING:
        return S.CANCEL_PENDING, status
    if status is S.CANCEL_PENDING and target is not S.CANCELLED:
        return status, target
    return target, (None if target is S.CANCELLED else resume)


# The payload field that explains a status (a rejection, a cancellation, a refused cancellation).
REASONS = {"OrderRejected": "reason", "OrderCancelled": "reason", "CancellationRefused": "reason", "OrderCancellationRefused": "reason"}

# Why an order in a status can no longer be cancelled, in people's words (not a list of transitions).
CANNOT_CANCEL = {
    S.PENDING_PAYMENT: "its payment is not settled yet, so it can't be cancelled now",
    S.COOKING: "the store has already started cooking, so it can't be cancelled now",
    S.READY_FOR_PICKUP: "the food is already cooked and waiting for a rider, so it can't be cancelled now",
    S.DELIVERING: "a rider is already on the way with it, so it can't be cancelled now",
    S.DELIVERED: "it has already been delivered, so it can't be cancelled now",
    S.CONFIRMED: "its delivery was already confirmed, so there is nothing to cancel",
    S.REJECTED: "it was rejected and never charged, so there is nothing to cancel",
    S.CANCELLED: "it is already cancelled and refunded",
}


@dataclass(slots=True)
class OrderState:
    """An order as a reader of the event log knows it: its parties, status and latest reason.

    Built from ``OrderPlaced`` and moved by every later event of the order with ``apply``; pure (no
    I/O), so every reader of the log folds it the same way.
    """

    order_id: str
    customer_id: str
    store_id: str
    status: OrderStatus = OrderStatus.PENDING_PAYMENT
    resume_status: OrderStatus | None = None
    rider_id: str | None = None
    reason: str | None = None
    total: int = 0
    currency: str = ""
    placed_at: datetime | None = None
    updated_at: datetime | None = None
    last_event_id: int = 0
    ready_at: datetime | None = None  # the store's estimate of when the food is ready (set on accepting)

    @classmethod
    def placed(cls, event: StoredEvent) -> OrderState:
        """The state an ``OrderPlaced`` event starts."""
        p = event.payload
        return cls(
            order_id=event.order_id, customer_id=p["customer_id"], store_id=p["store_id"], total=p["total"],
            currency=p["currency"], placed_at=event.occurred_at, updated_at=event.occurred_at, last_event_id=event.id,
        )

    def apply(self, event: StoredEvent) -> bool:
        """Follow one later event of this order; returns whether the customer-visible status changed."""
        before = self.status
        self.status, self.resume_status = follow(self.status, self.resume_status, event.event_type)
        field = REASONS.get(event.event_type)
        if field is not None:
            self.reason = event.payload[field]
        if event.event_type == "DeliveryPickedUp":
            self.rider_id = event.payload["rider_id"]
        elif event.event_type == "CookingStarted" and event.payload.get("ready_at"):
            self.ready_at = datetime.fromisoformat(event.payload["ready_at"])
        self.updated_at, self.last_event_id = event.occurred_at, event.id
        return self.status is not before


def fold(states: dict[str, OrderState], event: StoredEvent) -> tuple[OrderState | None, bool]:
    """Apply ``event`` to ``states`` (by order id): returns the order's state (None for an order never
    placed) and whether its status changed. ``NotificationSent`` changes nothing."""
    if event.event_type == "OrderPlaced":
        state = states[event.order_id] = OrderState.placed(event)
        return state, True
    state = states.get(event.order_id)
    if state is None or event.event_type == "NotificationSent":
        return state, False
    return state, state.apply(event)
