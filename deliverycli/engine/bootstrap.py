"""The composition root: wires storage, the clock, the payment port and every context's handlers
into an ``Engine``, and manages its life cycle.

What a test (or another deployment) swaps is a parameter here: the payment ``gateway``, the
``clock``, and the ``subscribers`` (a function given the default subscribers, returning those to
use). The command side (payment service, breaker, message bus) is built on first use, so an engine
opened for a query never loads the breaker library nor opens the payment provider.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from . import api, storage
from .clock import SYSTEM_CLOCK, Clock
from .unit_of_work import database_errors

if TYPE_CHECKING:
    from ..settings import Settings
    from .views import CatchUp, InitReport
    from .messagebus import MessageBus, Subscriber
    from .payment.port import PaymentGateway
    from .payment.service import PaymentService

# The order in which subscribers drain; any order is correct, this one settles a saga in fewest rounds.
SUBSCRIBER_NAMES = ("ordering", "payment", "store", "delivery", "status", "notification")
TIMER_BATCH = 200  # due timers fired between drains when catching up
CustomiseSubscribers = Callable[[list["Subscriber"]], list["Subscriber"]]


def gateway_url(url: URL) -> URL:
    """Where the simulated gateway keeps its ledger: a sibling SQLite file, or the same PostgreSQL database."""
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        return url.set(database=str(path.with_name(path.stem + "-gateway" + (path.suffix or ".db"))))
    return url


def handled_event_types() -> dict[str, set[str]]:
    """The event types each subscriber handles, by name (without building any subscriber)."""
    from . import delivery, notification, status, store
    from .ordering.handlers import SAGA_HANDLERS
    from .payment.records import REFUND_ON

    tables = {"ordering": SAGA_HANDLERS, "payment": REFUND_ON, "store": store.HANDLERS, "delivery": delivery.HANDLERS,
              "status": status.HANDLERS, "notification": notification.HANDLERS}
    return {name: set(tables[name]) for name in SUBSCRIBER_NAMES}


def default_subscribers(payments: PaymentService) -> list[Subscriber]:
    """Every context's subscriber, with its handlers and its batch handler."""
    from . import delivery, notification, status, store
    from .messagebus import Subscriber
    from .ordering.handlers import SAGA_HANDLERS, apply_saga_batch
    from .payment.records import refund_handlers

    return [
        Subscriber("ordering", SAGA_HANDLERS, apply_saga_batch),
        Subscriber("payment", refund_handlers(payments)),
        Subscriber("store", store.HANDLERS, store.apply_batch),
        Subscriber("delivery", delivery.HANDLERS, delivery.apply_batch),
        Subscriber("status", status.HANDLERS, status.apply_batch),
        Subscriber("notification", notification.HANDLERS, notification.apply_batch),
    ]


def command_handlers(payments: PaymentService, currency: str) -> dict[type, Callable[..., Any]]:
    """Each command's handler, with the dependencies it needs bound."""
    from . import delivery, store
    from .commands import (
        AcceptOrder, AlertPickupOverdue, AutoConfirmDelivery, CancelOrder, CompleteDelivery, ConfirmDelivery, ExpireAcceptance, MarkReady,
        PickUpDelivery, PlaceOrder, RejectOrder,
    )
    from .ordering import checkout, handlers

    return {
        PlaceOrder: functools.partial(checkout.place_order, payments=payments, currency=currency),
        CancelOrder: handlers.cancel_order,
        ConfirmDelivery: handlers.confirm_delivery,
        AcceptOrder: store.accept_order,
        RejectOrder: store.reject_order,
        MarkReady: store.mark_ready,
        PickUpDelivery: delivery.pick_up,
        CompleteDelivery: delivery.complete,
        # what deadlines do when they fall due (issued by deadlines.firing, never by a person)
        ExpireAcceptance: store.expire_acceptance,
        AlertPickupOverdue: delivery.alert_pickup_overdue,
        AutoConfirmDelivery: handlers.auto_confirm,
    }


class ApiGroup:
    """An ``Engine`` attribute holding one API group, made (and its module imported) on first access."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, engine: Engine | None, owner: type) -> Any:
        if engine is None:
            return self
        group = api.group_class(self.name)(engine)
        engine.__dict__[self.name] = group  # later reads find the instance attribute first
        return group


class Engine:
    """The whole domain engine on one database. Its typed API is in groups (see ``api``):
    ``orders``, ``store``, ``deliveries``, ``payments``, ``catalog``, ``notifications``, ``events``, ``ops``, ``timers``, ``tokens``, ``webhooks``."""

    orders: api.Orders = ApiGroup()
    store: api.StoreOrders = ApiGroup()
    deliveries: api.Deliveries = ApiGroup()
    payments: api.Payments = ApiGroup()
    catalog: api.Catalog = ApiGroup()
    notifications: api.Notifications = ApiGroup()
    events: api.Events = ApiGroup()
    ops: api.Ops = ApiGroup()
    timers: api.Timers = ApiGroup()
    tokens: api.Tokens = ApiGroup()
    webhooks: api.Webhooks = ApiGroup()

    def __init__(
        self, settings: Settings, *, gateway: PaymentGateway | None = None, clock: Clock | None = None,
        subscribers: CustomiseSubscribers | None = None,
    ) -> None:
        self.settings = settings
        self.url = storage.database_url(settings.db)
        self.db = storage.engine_for(self.url, settings)
        self.clock = clock or SYSTEM_CLOCK
        self._gateway = gateway
        self._made_gateway: Any = None  # the gateway this engine made (and so closes)
        self._customise = subscribers
        self._gateway_db: sa.Engine | None = None
        self._command_side: tuple[PaymentService, MessageBus] | None = None
        self._wiring = threading.Lock()

    # -- the command side: built on first use (a query never needs it) ----------------------------

    @property
    def gateway(self) -> PaymentGateway:
        """The payment provider: the one given, else the one the settings name (``payment_gateway``)."""
        with self._wiring:
            if self._gateway is None:
                self._gateway = self._made_gateway = self._configured_gateway()
            return self._gateway

    def _configured_gateway(self) -> PaymentGateway:
        if self.settings.payment_gateway == "http":
            from ..integrations.payment_http import HttpGateway  # httpx (the `server` extra): loaded only when configured

            key = self.settings.payment_api_key
            return HttpGateway(self.settings.payment_url or "", self.settings.payment_timeout_s, api_key=key.get_secret_value() if key else None)
        return self._simulated_gateway()

    def _simulated_gateway(self) -> PaymentGateway:
        from .payment.simulated import SimulatedGateway

        ledger_url = gateway_url(self.url)
        if ledger_url == self.url:
            ledger_db = self.db
        else:
            storage.create_sqlite_file(ledger_url)
            ledger_db = self._gateway_db = storage.engine_for(ledger_url, self.settings)
        s = self.settings
        return SimulatedGateway(ledger_db, s.payment_failure_rate, s.payment_latency_ms, s.payment_seed)

    @property
    def payment_service(self) -> PaymentService:
        """The synchronous payment call behind its timeout and circuit breaker."""
        return self._wired()[0]

    @property
    def bus(self) -> MessageBus:
        """The message bus: commands, then every subscriber until settled."""
        return self._wired()[1]

    def _wired(self) -> tuple[PaymentService, MessageBus]:
        side = self._command_side
        if side is None:
            gateway = self.gateway
            with self._wiring:  # two threads' first commands build it once
                if self._command_side is None:
                    self._command_side = self._wire(gateway)
                side = self._command_side
        return side

    def _wire(self, gateway: PaymentGateway) -> tuple[PaymentService, MessageBus]:
        from .deadlines import Deadlines, Scheduler
        from .messagebus import MessageBus, RetryPolicy
        from .payment.service import PaymentService

        s = self.settings
        payments = PaymentService(
            self.db, gateway, self.clock, timeout_s=s.payment_timeout_s, fail_max=s.breaker_fail_max, reset_timeout_s=s.breaker_reset_timeout_s
        )
        subscribers = default_subscribers(payments)
        if self._customise is not None:
            subscribers = self._customise(subscribers)
        bus = MessageBus(
            db=self.db,
            subscribers=subscribers,
            command_handlers=command_handlers(payments, s.currency),
            retry=RetryPolicy(max_attempts=s.retry_max_attempts, backoff_s=s.retry_backoff_s),
            clock=self.clock,
            on_commit=(Scheduler(Deadlines.from_settings(s)),),  # timers start and end in their events' transactions
        )
        return payments, bus

    def handled(self) -> dict[str, set[str]]:
        """The event types each subscriber handles, by name (the bus's own once it is built)."""
        return self.bus.handled() if self._command_side is not None else handled_event_types()

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, catch_up: bool = True, **parts: Any) -> Engine:
        """Open an initialised database; with ``catch_up`` finish whatever a crashed process left.

        ``parts`` are the constructor's: ``gateway``, ``clock``, ``subscribers``.
        """
        url = storage.database_url(settings.db)
        if url.get_backend_name() == "sqlite" and not Path(url.database).exists():
            # before constructing: the engine would create the gateway's sibling file (and folders)
            raise storage.missing_database(url)
        engine = cls(settings, **parts)
        try:
            storage.check_ready(engine.db, engine.url, settings.currency)
            if catch_up:
                engine.catch_up()
        except BaseException:
            engine.close()
            raise
        return engine

    @classmethod
    def initialise(cls, settings: Settings, *, demo: bool = False, **parts: Any) -> tuple[Engine, InitReport]:
        """Create or upgrade the database in place; with ``demo`` add the demo reference data."""
        from . import catalog

        url = storage.database_url(settings.db)
        if url.get_backend_name() == "sqlite":
            storage.create_sqlite_file(url)
        engine = cls(settings, **parts)
        try:
            with database_errors():
                before = storage.schema_version(engine.db)
                revision = storage.migrate(engine.db, settings.currency)
                seeded = None
                if demo:
                    with engine.db.begin() as conn:
                        seeded = catalog.seed_demo(conn)
            engine.catch_up()
        except BaseException:
            engine.close()
            raise
        from .views import InitReport

        where = storage.describe(url)
        return engine, InitReport(id=where, database=where, schema_before=before, schema=revision, demo=seeded)

    def close(self) -> None:
        if self._command_side is not None:  # never build the command side just to close it
            self._command_side[1].close()
        if hasattr(self._made_gateway, "close"):
            self._made_gateway.close()  # the HTTP gateway's connection pool
        self.db.dispose()
        if self._gateway_db is not None:
            self._gateway_db.dispose()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the bus and the database -----------------------------------------------------------------

    def handle(self, command: Any, *, settle: bool = True) -> Any:
        """Run a command (see ``commands``) and, unless ``settle=False``, the sagas it started."""
        return self.bus.handle(command, settle=settle)

    def catch_up(self) -> CatchUp:
        """Resolve payments cut off by a crash, check with the provider the payments it could not
        confirm (refunding a late charge once), drain every subscriber's backlog, then fire the
        timers that are due (deadlines) and drain what they started. Any process that catches up
        fires due timers; a worker is what makes them fire on time when nobody else is working."""
        from .deadlines.firing import fire_due
        from .ordering.checkout import IN_FLIGHT_GRACE_S, resolve_interrupted_payments
        from .payment.records import reconcile

        with database_errors():
            now = self.clock.now()
            cutoff = now - timedelta(seconds=self.settings.payment_timeout_s + IN_FLIGHT_GRACE_S)
            resolved, reconciled = [], []
            if self.payment_service.may_call_provider():  # an open breaker keeps every call off the network
                resolved = resolve_interrupted_payments(self.db, self.bus.unit_of_work, self.payment_service, cutoff)
                reconciled = reconcile(self.db, self.bus.unit_of_work, self.payment_service, now)
            applied = self.bus.drain()
            fired = []
            while batch := fire_due(self.bus, TIMER_BATCH):  # after draining: a timer acts on settled state
                fired += batch
                applied += self.bus.drain()
        from .views import CatchUp

        return CatchUp(payments_resolved=resolved, payments_reconciled=reconciled, events_applied=applied, timers_fired=fired)

    def deferred(self) -> Any:
        """``with engine.deferred(): ...`` commits each command but drains the sagas once, at the end."""
        return self.bus.deferred_dispatch()

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only transaction (a consistent snapshot)."""
        with database_errors(), self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction outside the message bus (reference data, which records no events)."""
        with database_errors(), self.db.begin() as conn:
            yield conn


def open_engine(db: str | None = None, *, catch_up: bool = True, **overrides: Any) -> Engine:
    """Open the engine on ``db`` (a path or URL; default from settings), with settings ``overrides``."""
    from ..settings import load_settings

    return Engine.open(load_settings(db=db, **overrides), catch_up=catch_up)
