"""The Order aggregate: what a customer ordered, and the status rules it enforces itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..errors import CancellationRefused, Conflict, IllegalTransition, NotPermitted
from ..events import (
    DeliveryConfirmed,
    Event,
    OrderCancellationRefused,
    OrderCancellationRequested,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    OrderRejected,
)
from ..lifecycle import ALLOWED, CANNOT_CANCEL, FINAL, OrderStatus, follow
from ..views import OrderView

S = OrderStatus


@dataclass
class Order:
    """An order and the events it recorded since it was loaded (taken by the unit of work on save)."""

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
    request_fingerprint: str | None = None  # of a placement with an idempotency key: what a retry must repeat
    events: list[Event] = field(default_factory=list)

    @classmethod
    def place(
        cls, id: str, customer_id: str, store_id: str, address: str, lines: list[OrderLine], currency: str, at: datetime,
        idempotency_key: str | None = None, request_fingerprint: str | None = None,
    ) -> Order:
        """A new order, waiting for its payment."""
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
        """The payment failed: the order ends here."""
        self._move(S.REJECTED, "reject it")
        self.reason = reason
        self.events.append(OrderRejected(order_id=self.id, reason=reason))

    def request_cancellation(self, customer_id: str) -> CancellationRefused | None:
        """The customer asks to cancel; the store decides (it knows whether cooking started).

        Once the order is past the point the store could still cancel it (cooking started), the
        order refuses by itself: it records ``OrderCancellationRefused`` (the store is told; the
        timeline shows it) and returns the refusal, for the caller to raise once that is committed.
        """
        if customer_id != self.customer_id:
            raise NotPermitted(f"only the customer who placed order {self.id} may cancel it")
        if self.status is S.CANCEL_PENDING:
            raise Conflict(f"order {self.id} already has a cancellation pending; the store has not answered yet")
        if self.status not in (S.PAID,):
            refusal = CancellationRefused(self.id, self.status.value, CANNOT_CANCEL[self.status])
            if self.status in FINAL or self.status is S.PENDING_PAYMENT:
                raise refusal  # nothing goes on for the store to hear about
            self.events.append(
                OrderCancellationRefused(
                    order_id=self.id, customer_id=customer_id, store_id=self.store_id, status=self.status.value, reason=CANNOT_CANCEL[self.status]
                )
            )
            return refusal
        self._move(S.CANCEL_PENDING, "cancel it")
        self.resume_status = S.PAID
        self.events.append(OrderCancellationRequested(order_id=self.id, customer_id=customer_id))
        return None

    def confirm_delivery(self, customer_id: str) -> None:
        """The customer confirms the food arrived."""
        if customer_id != self.customer_id:
            raise NotPermitted(f"only the customer who placed order {self.id} may confirm its delivery")
        self._move(S.CONFIRMED, "confirm delivery (it has not been delivered)")
        self.events.append(DeliveryConfirmed(order_id=self.id, customer_id=customer_id))

    def follow(self, event_type: str) -> None:
        """Follow a fact another context recorded (cooking, delivery, a refused cancellation)."""
        self.status, self.resume_status = follow(self.status, self.resume_status, event_type)

    def cancel(self) -> None:
        """The store cancelled or rejected it and the payment was refunded: the order ends here."""
        if self.status is S.CANCELLED:
            return
        self.reason = self.reason or "cancelled at the customer's request"
        self._move(S.CANCELLED, "cancel it")
        self.resume_status = None
        self.events.append(OrderCancelled(order_id=self.id, reason=self.reason))

    def view(self) -> OrderView:
        """The order as callers see it."""
        return OrderView(
            id=self.id, status=self.status, customer_id=self.customer_id, store_id=self.store_id, total=self.total,
            currency=self.currency, address=self.address, reason=self.reason, placed_at=self.placed_at, items=self.lines,
        )
