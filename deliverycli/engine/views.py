"""The typed read models: what every query and command of the engine returns.

The CLI's ``--json``, the console and the HTTP gateway all serialise these same models
(``model_dump(mode="json")``), so a status, an order or a delivery has one shape everywhere, and an
OpenAPI schema can say what it is. Times serialise as ISO 8601 with their UTC offset.

Models are frozen and build their validators on first use (``defer_build``): a command-line query
pays only for the models it returns.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from .events import OrderLine
from .lifecycle import DeliveryStatus, OrderStatus, TicketStatus

if TYPE_CHECKING:
    from .events import StoredEvent

# datetime.isoformat() ("+00:00"), as the event log and every earlier release printed times.
Timestamp = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")]


class ReadModel(BaseModel):
    # Built from keyword arguments by field name; serialised by alias (``schema``: a BaseModel method's name).
    model_config = ConfigDict(frozen=True, defer_build=True, validate_by_name=True, serialize_by_alias=True)


# -- reference data (catalog) -----------------------------------------------------------------------


class Store(ReadModel):
    id: str
    name: str
    address: str


class Customer(ReadModel):
    id: str
    name: str
    address: str


class Rider(ReadModel):
    id: str
    name: str
    vehicle: str


class MenuItem(ReadModel):
    id: str
    store_id: str
    name: str
    price: int = Field(description="in minor units of the currency")
    available: bool


# -- orders (ordering, and the status view) ---------------------------------------------------------


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


class StatusView(OrderSummary):
    """The status check of an order: its status view row and its timeline, oldest first."""

    timeline: list[TimelineEntry]


# -- the store's order list -------------------------------------------------------------------------


class TicketState(ReadModel):
    """A kitchen ticket after a store's command."""

    id: str
    order_id: str
    store_id: str
    status: TicketStatus
    reason: str | None


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


# -- deliveries -------------------------------------------------------------------------------------


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


# -- payments and notifications ---------------------------------------------------------------------


class PaymentView(ReadModel):
    id: str
    order_id: str
    amount: int
    status: str = Field(description="APPROVED, DECLINED or REFUNDED")
    charge_id: str | None
    refund_id: str | None
    card: str = Field(description="the card's masked suffix")
    reason: str | None
    created_at: Timestamp
    refunded_at: Timestamp | None


class Notification(ReadModel):
    id: int
    order_id: str
    recipient: str = Field(description="recipient_type:recipient_id")
    recipient_type: str
    recipient_id: str
    status: str
    channel: str
    message: str
    created_at: Timestamp


# -- the event log ----------------------------------------------------------------------------------


class EventView(ReadModel):
    """A stored event: its global sequence number, type, order, actor, time and payload."""

    id: int
    event_type: str
    schema_version: int
    order_id: str
    actor: str
    context: str
    occurred_at: Timestamp
    payload: dict[str, Any]

    @classmethod
    def of(cls, event: "StoredEvent") -> "EventView":
        return cls(
            id=event.id, event_type=event.event_type, schema_version=event.schema_version, order_id=event.order_id,
            actor=event.actor, context=event.context, occurred_at=event.occurred_at, payload=event.payload,
        )


# -- operations -------------------------------------------------------------------------------------


class DeadLetter(ReadModel):
    id: int
    subscriber: str
    event_id: int
    order_id: str
    event_type: str
    error: str
    attempts: int
    parked_at: Timestamp
    resolved_at: Timestamp | None


class Breaker(ReadModel):
    """The payment circuit breaker, shared by every process on the database."""

    state: str = Field(description="closed, open or half-open")
    fail_counter: int
    fail_max: int
    reset_timeout_s: float
    opened_at: Timestamp | None
    half_open_at: Timestamp | None


class SubscriberLag(ReadModel):
    id: str = Field(description="the subscriber's name")
    lag: int = Field(description="events it has yet to take effect on")


class SubscriberPosition(SubscriberLag):
    position: int = Field(description="the id of the last event it has passed")


class SchemaState(ReadModel):
    current: str | None
    expected: str
    ready: bool


class Health(ReadModel):
    """Liveness and readiness: what `doctor` reports and a readiness probe checks."""

    id: str = "doctor"
    database: str
    backend: str
    reachable: bool
    schema_: SchemaState = Field(alias="schema")
    events: int
    subscribers: list[SubscriberLag]
    dead_letters: int
    breaker: Breaker
    pending_payments: int
    payments_to_reconcile: int = Field(0, description="payments the provider has yet to confirm (a late charge is refunded)")
    orders_by_status: dict[str, int]
    problems: list[str]
    healthy: bool


class Operations(ReadModel):
    """What an operator watches."""

    id: str = "operations"
    head: int
    orders_by_status: dict[str, int]
    events_per_minute: list[int]
    subscribers: list[SubscriberPosition]
    dead_letters: list[DeadLetter]
    breaker: Breaker
    stuck_after_s: float
    stuck: list[OrderSummary]
    stuck_count: int


class Readiness(ReadModel):
    """A readiness probe's answer: ready when the database answers at the expected schema and no
    subscriber lags more than ``max_lag`` events; otherwise ``reasons`` says why not."""

    id: str = "readiness"
    ready: bool
    reasons: list[str]
    max_lag: int = Field(description="the most events a subscriber may lag while ready")
    health: Health | None = Field(description="the full health report; null when the database did not answer")


# -- identities (API tokens) ------------------------------------------------------------------------

Role = Literal["customer", "store", "rider", "ops"]


class Actor(ReadModel):
    """Who a request acts as: a role and, except for ops, one customer, store or rider."""

    role: Role
    actor_id: str | None = Field(description="the customer, store or rider id; null for ops")
    token_id: str


class Token(ReadModel):
    """An API token as listed: never the token itself (only its hash is stored)."""

    id: str
    role: Role
    actor_id: str | None
    created_at: Timestamp
    revoked_at: Timestamp | None


class IssuedToken(Token):
    """A token just created: the only time its secret is shown."""

    token: str = Field(description="the bearer token; shown once and never stored")


class CatchUp(ReadModel):
    """What catching up did: payments settled after a crash, and events applied."""

    payments_resolved: list[str]
    payments_reconciled: list[str] = []
    events_applied: int


class InitReport(ReadModel):
    id: str
    database: str
    schema_before: str | None
    schema_: str = Field(alias="schema")
    demo: dict[str, int] | None
