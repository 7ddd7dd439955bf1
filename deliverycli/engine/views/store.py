"""The store's order list: kitchen tickets."""

from pydantic import Field

from ..order_line import OrderLine
from ..lifecycle import TicketStatus
from .model import ReadModel, Timestamp


class TicketState(ReadModel):
    """A kitchen ticket after a store's command."""

    id: str
    order_id: str
    store_id: str
    status: TicketStatus
    reason: str | None
    prep_min: int | None = None
    ready_at: Timestamp | None = None


class StoreTicket(ReadModel):
    """A kitchen ticket on the store's order list."""

    id: str
    order_id: str
    store_id: str
    status: TicketStatus
    items: list[OrderLine]
    total: int
    address: str
    reason: str | None
    received_at: Timestamp
    updated_at: Timestamp
    accept_by: Timestamp | None = Field(default=None, description="a NEW ticket's acceptance deadline: rejected by the system after it")
    prep_min: int | None = Field(None, description="the preparation time the store gave when accepting")
    ready_at: Timestamp | None = Field(None, description="when the food should be ready")
