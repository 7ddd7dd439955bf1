"""The typed read models: what every query and command of the engine returns.

The CLI's ``--json``, the console and the HTTP gateway all serialise these same models
(``model_dump(mode="json")``), so a status, an order or a delivery has one shape everywhere, and an
OpenAPI schema can say what it is. Times serialise as ISO 8601 with their UTC offset.

Models are frozen and build their validators on first use (``defer_build``): a command-line query
pays only for the models it returns.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

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
    prep_min: int = Field(15, description="the store's usual preparation time in minutes (accepting without one uses it)")
    paused: bool = Field(False, description="the store takes no orders while paused")
    pause_reason: str | None = None


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


# -- the store's order list -------------------------------------------------------------------------


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

    @staticmethod
    def json_bytes(event: "StoredEvent") -> bytes:
        """The event as one line of `deliverycli events tail --json` (the body the relay and webhooks send)."""
        import json

        return json.dumps(EventView.of(event).model_dump(mode="json"), ensure_ascii=False).encode()


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


class WorkerView(ReadModel):
    """A registered `deliverycli worker`: when it last beat and what it is doing."""

    id: str
    host: str
    pid: int
    started_at: datetime
    last_beat_at: datetime
    beat_interval_s: float
    state: str = Field(description="starting, idle, draining, standby (SQLite: another worker drains) or stopping")
    doing: str = Field(description="the subscribers (and jobs) its last batch worked on")
    applied: int = Field(description="events it applied since it started")
    silent_s: float = Field(description="seconds since its last beat")
    stale: bool = Field(description="it missed several beats: dead or hanging")


class WorkerBatch(ReadModel):
    """One batch of a worker that did something: events applied per subscriber, jobs done."""

    id: str
    at: datetime
    events_applied: int
    subscribers: dict[str, int]
    jobs_done: int
    payments_resolved: int


class WorkerRun(ReadModel):
    """What a worker did from start to exit."""

    id: str
    started_at: datetime
    stopped_at: datetime
    batches: int
    events_applied: int
    jobs_done: int
    stopped_by: str = Field(description="once (--once finished), stop (SIGTERM, SIGINT)")


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
    workers: list[WorkerView] = []
    backlog: int = Field(0, description="events not yet applied, summed over subscribers: what an autoscaler reads")
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
    overdue_timers: list[TimerView] = Field(default=[], description="deadlines past due and not fired yet, most overdue first")
    overdue_timer_count: int = 0
    workers: list[WorkerView] = []
    backlog: int = Field(0, description="events not yet applied, summed over subscribers")


class Readiness(ReadModel):
    """A readiness probe's answer: ready when the database answers at the expected schema and no
    subscriber lags more than ``max_lag`` events; otherwise ``reasons`` says why not."""

    id: str = "readiness"
    ready: bool
    reasons: list[str]
    max_lag: int = Field(description="the most events a subscriber may lag while ready")
    health: Health | None = Field(description="the full health report; null when the database did not answer")


# -- identities (API tokens) ------------------------------------------------------------------------


class CatchUp(ReadModel):
    """What catching up did: payments settled after a crash, events applied, and timers fired."""

    payments_resolved: list[str]
    payments_reconciled: list[str] = []
    events_applied: int
    timers_fired: list[TimerView] = Field(default=[], description="due deadlines fired (or found no longer needed)")


class InitReport(ReadModel):
    id: str
    database: str
    schema_before: str | None
    schema_: str = Field(alias="schema")
    demo: dict[str, int] | None
