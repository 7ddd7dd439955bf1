"""The events of SPEC §4: typed payloads with a stable ``event_type`` and a schema version.

Each event carries ``order_id`` as its correlation id. The actor who caused it, the time and the
global sequence number are kept beside the payload by the event log (see ``StoredEvent``).

Every process that handles events imports this module (a read-only query, which only reads the
log's tables, does not: ``StoredEvent`` and ``OrderLine`` have modules of their own), so it is kept cheap to import: the models'
validators are built on first use (``defer_build``), and the annotations are plain (no ``from
__future__ import annotations``), so pydantic does not evaluate a string for each field.
"""

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from .order_line import OrderLine
from .stored_event import StoredEvent  # noqa: F401 (re-exported: where the events are, the log's record of one is looked for)


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    context: ClassVar[str]

    order_id: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.event_type = cls.__name__
        EVENT_TYPES[cls.__name__] = cls


EVENT_TYPES: dict[str, type[Event]] = {}


# ordering
class OrderPlaced(Event):
    context = "ordering"
    customer_id: str
    store_id: str
    lines: list[OrderLine]
    total: int
    currency: str
    address: str


class OrderRejected(Event):
    context = "ordering"
    reason: str


class OrderCancellationRequested(Event):
    context = "ordering"
    customer_id: str


class OrderCancelled(Event):
    context = "ordering"
    reason: str


class OrderCancellationRefused(Event):
    """The ordering context refused a cancellation by itself: the order is past the point where the
    store could still cancel it (cooking started). The status does not change; the store is told."""

    context = "ordering"
    customer_id: str
    store_id: str
    status: str
    reason: str


class DeliveryConfirmed(Event):
    context = "ordering"
    customer_id: str


# payment
class PaymentApproved(Event):
    context = "payment"
    amount: int
    charge_id: str
    card_suffix: str


class PaymentDeclined(Event):
    context = "payment"
    amount: int
    reason: str
    unavailable: bool


class PaymentRefunded(Event):
    context = "payment"
    amount: int
    refund_id: str


# store
class StoreOrderReceived(Event):
    context = "store"
    store_id: str


class CookingStarted(Event):
    context = "store"
    store_id: str
    prep_min: int | None = None  # the store's preparation time (absent in events of earlier releases)
    ready_at: datetime | None = None  # when the food should be ready: accepted at + prep_min


class CookingFinished(Event):
    context = "store"
    store_id: str


class StoreOrderCancelled(Event):
    context = "store"
    store_id: str


class CancellationRefused(Event):
    context = "store"
    store_id: str
    reason: str


class StoreOrderRejected(Event):
    context = "store"
    store_id: str
    reason: str


# delivery
class DeliveryRequested(Event):
    context = "delivery"
    store_id: str
    address: str


class DeliveryPickedUp(Event):
    context = "delivery"
    rider_id: str


class PickupOverdue(Event):
    """A ready order has waited ``waited_s`` seconds for a rider (the pickup alert); nothing is cancelled."""

    context = "delivery"
    store_id: str
    waited_s: int


class DeliveryCompleted(Event):
    context = "delivery"
    rider_id: str


# notification
class NotificationSent(Event):
    context = "notification"
    status: str
    recipients: list[str]
    message: str
