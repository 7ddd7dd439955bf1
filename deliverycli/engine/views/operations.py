"""Operations: dead letters, breakers, subscribers, workers, health, catching up, initialising."""

from datetime import datetime

from pydantic import Field

from .model import ReadModel, Timestamp
from .orders import OrderSummary, TimerView


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
