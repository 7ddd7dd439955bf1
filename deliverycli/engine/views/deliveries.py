"""Deliveries."""

from ..lifecycle import DeliveryStatus
from .model import ReadModel, Timestamp


class DeliveryState(ReadModel):
    """A delivery after a rider's command."""

    id: str
    order_id: str
    status: DeliveryStatus
    rider_id: str | None


class DeliveryView(ReadModel):
    id: str
    order_id: str
    store_id: str
    address: str
    status: DeliveryStatus
    rider_id: str | None
    requested_at: Timestamp
    picked_up_at: Timestamp | None
    completed_at: Timestamp | None
