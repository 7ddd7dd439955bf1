"""The order status rules of SPEC §5, shared by the Order aggregate, the status view and notifications."""

from __future__ import annotations

from enum import StrEnum


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

GLYPHS: dict[OrderStatus, str] = {
    S.PENDING_PAYMENT: "…",
    S.PAID: "$",
    S.COOKING: "♨",
    S.READY_FOR_PICKUP: "▣",
    S.DELIVERING: "➜",
    S.DELIVERED: "⌂",
    S.CONFIRMED: "✔",
    S.REJECTED: "✘",
    S.CANCEL_PENDING: "⧗",
    S.CANCELLED: "⊘",
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
