"""Orders: as the ordering context holds them, and the status view (CQRS read model)."""

from pydantic import Field

from ..order_line import OrderLine
from ..lifecycle import OrderStatus
from .model import ReadModel, Timestamp


class OrderView(ReadModel):
    """An order as the ordering context holds it, with its lines."""

    id: str
    status: OrderStatus
    customer_id: str
    store_id: str
    total: int = Field(description="in minor units of the currency")
    currency: str
    address: str
    reason: str | None
    placed_at: Timestamp
    items: list[OrderLine]


class OrderSummary(ReadModel):
    """An order's row in the status view (CQRS read model): what lists show."""

    id: str
    status: OrderStatus
    customer_id: str
    store_id: str
    rider_id: str | None
    total: int
    currency: str
    reason: str | None
    placed_at: Timestamp
    updated_at: Timestamp
    ready_at: Timestamp | None = Field(None, description="when the store expects the food to be ready (set when it accepts)")


class OrderPage(ReadModel):
    """A page of orders, newest first, and where the next one starts (keyset pagination)."""

    orders: list[OrderSummary]
    next: str | None = Field(description="pass as ``after`` for the next page; null on the last page")


class TimelineEntry(ReadModel):
    status: OrderStatus = Field(description="the order's status after this event")
    at: Timestamp
    event: str = Field(description="the event type")
    event_id: int
    actor: str


class TimerView(ReadModel):
    """A deadline an order started (a durable timer): when it falls due and what became of it."""

    id: int
    order_id: str
    kind: str = Field(description="acceptance (store must accept), pickup (alert if no rider) or confirm (auto-confirm)")
    due_at: Timestamp
    state: str = Field(description="pending, fired, cancelled (the order moved on first) or failed")
    created_at: Timestamp
    created_by_event: int = Field(description="the id of the event that started it")
    settled_at: Timestamp | None
    outcome: str | None = Field(description="what firing did, or why it was cancelled")


class StatusView(OrderSummary):
    """The status check of an order: its status view row, its timeline oldest first, and its pending deadlines."""

    timeline: list[TimelineEntry]
    deadlines: list[TimerView] = Field(default=[], description="pending deadlines, soonest first")
