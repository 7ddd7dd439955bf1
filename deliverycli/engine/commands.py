"""Commands: what a person (or a script) asks the engine to do, named for intent."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlaceOrder:
    customer_id: str
    store_id: str
    items: tuple[tuple[str, int], ...]
    address: str
    card: str | None = None
    idempotency_key: str | None = None  # retrying with the same key returns the same order, charged once


@dataclass(frozen=True)
class CancelOrder:
    order_id: str
    customer_id: str


@dataclass(frozen=True)
class ConfirmDelivery:
    order_id: str
    customer_id: str


@dataclass(frozen=True)
class AcceptOrder:
    order_id: str
    store_id: str
    prep_min: int | None = None  # minutes until the food is ready; None: the store's usual preparation time


@dataclass(frozen=True)
class RejectOrder:
    order_id: str
    store_id: str
    reason: str


@dataclass(frozen=True)
class MarkReady:
    order_id: str
    store_id: str


@dataclass(frozen=True)
class PickUpDelivery:
    order_id: str
    rider_id: str


@dataclass(frozen=True)
class CompleteDelivery:
    order_id: str
    rider_id: str


# -- what deadlines do when they fall due (deadlines.firing issues them; actor: the system) ------------


@dataclass(frozen=True)
class ExpireAcceptance:
    """The store did not accept in time: reject the ticket ("not accepted in time"); it is refunded."""

    order_id: str
    actor: str = "system:deadlines"


@dataclass(frozen=True)
class AlertPickupOverdue:
    """No rider picked the order up in time: tell the store and operations (nothing is cancelled)."""

    order_id: str
    actor: str = "system:deadlines"


@dataclass(frozen=True)
class AutoConfirmDelivery:
    """The customer did not confirm a delivered order in time: the system confirms it."""

    order_id: str
    actor: str = "system:deadlines"
