"""The composition root: wires storage, the payment port, handlers and subscribers into an Engine.

The CLI and the TUI are thin layers over ``Engine``; so is a script that ``import deliverycli``.

The command side (the payment gateway and service, the message bus with every context's handlers)
is built on first use, and each query imports only the context it reads: an engine opened for a
query (``catch_up=False``), say by `deliverycli status`, imports neither the other contexts, the
bus nor pybreaker, and does not open the gateway's ledger. Catching up builds the command side.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from . import catalog, eventlog, storage
from . import status as status_view
from .commands import AcceptOrder, CancelOrder, CompleteDelivery, ConfirmDelivery, MarkReady, PickUpDelivery, PlaceOrder, RejectOrder
from .errors import Conflict, NotFound
from .storage import utcnow
from .unit_of_work import database_errors  # every query's transaction; imports the event log (not the contexts)

if TYPE_CHECKING:
    from ..settings import Settings
    from .events import StoredEvent
    from .messagebus import MessageBus
    from .payment import PaymentGateway, PaymentService

# The order in which subscribers drain; any order is correct, this one settles a saga in fewest rounds.
SUBSCRIBER_NAMES = ("ordering", "payment", "store", "delivery", "status", "notification")


def gateway_url(url: URL) -> URL:
    """Where the simulated gateway keeps its ledger: a sibling SQLite file, or the same PostgreSQL database."""
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        return url.set(database=str(path.with_name(path.stem + "-gateway" + (path.suffix or ".db"))))
    return url


@dataclass(frozen=True)
class _CommandSide:
    gateway: PaymentGateway
    payments: PaymentService
    bus: MessageBus


class Engine:
    """The whole domain engine on one database: commands, queries, catch-up and health."""

    def __init__(self, settings: Settings, *, gateway: PaymentGateway | None = None) -> None:
        self.settings = settings
        self.url = storage.database_url(settings.db)
        self.db = storage.make_engine(self.url, busy_timeout_s=settings.busy_timeout_s)
        self._given_gateway = gateway
        self._gateway_db: sa.Engine | None = None
        self._command_side: _CommandSide | None = None
        self._wiring = threading.Lock()

    # -- the command side: built on first use (a query never needs it) --------------------------

    @property
    def gateway(self) -> PaymentGateway:
        return self._wired().gateway

    @property
    def payments(self) -> PaymentService:
        return self._wired().payments

    @property
    def bus(self) -> MessageBus:
        return self._wired().bus

    def _wired(self) -> _CommandSide:
        side = self._command_side
        if side is None:
            with self._wiring:  # two threads' first commands build it once
                if self._command_side is None:
                    self._command_side = self._wire()
                side = self._command_side
        return side

    def _wire(self) -> _CommandSide:
        from . import delivery, notification, ordering, payment, store
        from .messagebus import MessageBus, RetryPolicy, Subscriber

        settings = self.settings
        gateway = self._given_gateway
        if gateway is None:
            gateway_url_ = gateway_url(self.url)
            if gateway_url_.get_backend_name() == "sqlite":
                storage.create_sqlite_file(gateway_url_)
            self._gateway_db = storage.make_engine(gateway_url_, busy_timeout_s=settings.busy_timeout_s) if gateway_url_ != self.url else self.db
            gateway = payment.SimulatedGateway(
                self._gateway_db, settings.payment_failure_rate, settings.payment_latency_ms, settings.payment_seed
            )
        payments = payment.PaymentService(
            self.db, gateway, settings.payment_timeout_s, settings.breaker_fail_max, settings.breaker_reset_timeout_s
        )
        subscribers = {
            "ordering": ordering.SAGA_HANDLERS,
            "payment": {
                "StoreOrderCancelled": payment.refund_handler(payments),
                "StoreOrderRejected": payment.refund_handler(payments),
            },
            "store": store.HANDLERS,
            "delivery": delivery.HANDLERS,
            "status": status_view.HANDLERS,
            "notification": notification.HANDLERS,
        }
        batch_handlers = {
            "ordering": ordering.apply_saga_batch,
            "store": store.apply_batch,
            "delivery": delivery.apply_batch,
            "status": status_view.apply_batch,
            "notification": notification.apply_batch,
        }
        bus = MessageBus(
            engine=self.db,
            subscribers=[Subscriber(name, subscribers[name], batch_handlers.get(name)) for name in SUBSCRIBER_NAMES],
            command_handlers={
                PlaceOrder: functools.partial(ordering.place_order, payments=payments, currency=settings.currency),
                CancelOrder: ordering.cancel_order,
                ConfirmDelivery: ordering.confirm_delivery,
                AcceptOrder: store.accept_order,
                RejectOrder: store.reject_order,
                MarkReady: store.mark_ready,
                PickUpDelivery: delivery.pick_up,
                CompleteDelivery: delivery.complete,
            },
            retry=RetryPolicy(max_attempts=settings.retry_max_attempts, backoff_s=settings.retry_backoff_s),
        )
        return _CommandSide(gateway, payments, bus)

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, catch_up: bool = True, gateway: PaymentGateway | None = None) -> Engine:
        """Open an initialised database; with ``catch_up`` finish whatever a crashed process left."""
        url = storage.database_url(settings.db)
        if url.get_backend_name() == "sqlite" and not Path(url.database).exists():
            # before constructing: the engine would create the gateway's sibling file (and folders)
            raise NotFound(f"no database at {url.database}; run `deliverycli init` (or `init --demo`) first")
        engine = cls(settings, gateway=gateway)
        try:
            storage.check_ready(engine.db, engine.url)
            if catch_up:
                engine.catch_up()
        except BaseException:
            engine.close()
            raise
        return engine

    @classmethod
    def initialise(cls, settings: Settings, *, demo: bool = False) -> tuple[Engine, dict[str, Any]]:
        """Create or upgrade the database in place; with ``demo`` add the demo reference data."""
        url = storage.database_url(settings.db)
        if url.get_backend_name() == "sqlite":
            storage.create_sqlite_file(url)
        engine = cls(settings)
        try:
            with database_errors():
                before = storage.schema_version(engine.db)
                revision = storage.migrate(engine.db)
                seeded = None
                if demo:
                    with engine.db.begin() as conn:
                        seeded = catalog.seed_demo(conn)
            engine.catch_up()
        except BaseException:
            engine.close()
            raise
        return engine, {"id": storage.describe(url), "database": storage.describe(url), "schema_before": before, "schema": revision, "demo": seeded}

    def close(self) -> None:
        if self._command_side is not None:  # never build the command side just to close it
            self._command_side.bus.close()
        self.db.dispose()
        if self._gateway_db is not None and self._gateway_db is not self.db:
            self._gateway_db.dispose()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def catch_up(self) -> dict[str, Any]:
        """Resolve payments cut off by a crash, then drain every subscriber's backlog."""
        from . import ordering

        with database_errors():
            older_than = timedelta(seconds=self.settings.payment_timeout_s + 5)
            resolved = ordering.resolve_interrupted_payments(self.bus, self.payments, older_than)
            applied = self.bus.drain()
        return {"payments_resolved": resolved, "events_applied": applied}

    def deferred(self) -> Any:
        """``with engine.deferred(): ...`` commits each command but drains the sagas once, at the end."""
        return self.bus.deferred_dispatch()

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only transaction (a consistent snapshot)."""
        with database_errors(), self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            yield conn

    # -- commands -----------------------------------------------------------------------------

    def place_order(
        self, customer_id: str, store_id: str, items: list[str] | list[tuple[str, int]], address: str,
        card: str | None = None, idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Place and pay an order. ``items`` are ``"MENU_ID[:QTY]"`` strings or ``(menu_id, qty)`` pairs.

        With ``idempotency_key``, a retry (say, after a crash) returns the order the key first placed,
        charged at most once.
        """
        from . import ordering
        parsed = tuple(ordering.parse_item(i) if isinstance(i, str) else (i[0], i[1]) for i in items)
        return self.bus.handle(PlaceOrder(customer_id, store_id, parsed, address, card, idempotency_key))

    def cancel_order(self, order_id: str, customer_id: str) -> dict[str, Any]:
        """Ask to cancel; the store decides. Raises Conflict with the store's reason when refused."""
        self.bus.handle(CancelOrder(order_id, customer_id))
        order = self.order(order_id)
        if order["status"] not in ("CANCELLED", "CANCEL_PENDING"):
            with self.read() as conn:
                refusal = eventlog.read(conn, 0, types=["CancellationRefused"], order_id=order_id, limit=1000)
            reason = refusal[-1].payload["reason"] if refusal else "the store refused"
            raise Conflict(f"cancellation of order {order_id} was refused: {reason}; the order is {order['status']}")
        return order

    def confirm_delivery(self, order_id: str, customer_id: str) -> dict[str, Any]:
        return self.bus.handle(ConfirmDelivery(order_id, customer_id))

    def accept_order(self, order_id: str, store_id: str) -> dict[str, Any]:
        return self.bus.handle(AcceptOrder(order_id, store_id))

    def reject_order(self, order_id: str, store_id: str, reason: str) -> dict[str, Any]:
        return self.bus.handle(RejectOrder(order_id, store_id, reason))

    def mark_ready(self, order_id: str, store_id: str) -> dict[str, Any]:
        return self.bus.handle(MarkReady(order_id, store_id))

    def pick_up(self, order_id: str, rider_id: str) -> dict[str, Any]:
        return self.bus.handle(PickUpDelivery(order_id, rider_id))

    def complete_delivery(self, order_id: str, rider_id: str) -> dict[str, Any]:
        return self.bus.handle(CompleteDelivery(order_id, rider_id))

    # -- reference data -----------------------------------------------------------------------

    def _write(self, fn: Any, *args: Any) -> dict[str, Any]:
        with database_errors(), self.db.begin() as conn:
            return fn(conn, *args)

    def add_store(self, id: str, name: str, address: str) -> dict[str, Any]:
        return self._write(catalog.add_store, id, name, address)

    def add_customer(self, id: str, name: str, address: str) -> dict[str, Any]:
        return self._write(catalog.add_customer, id, name, address)

    def add_rider(self, id: str, name: str, vehicle: str = "scooter") -> dict[str, Any]:
        return self._write(catalog.add_rider, id, name, vehicle)

    def add_menu_item(self, store_id: str, id: str, name: str, price: int) -> dict[str, Any]:
        return self._write(catalog.add_menu_item, store_id, id, name, price)

    def stores(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            return catalog.list_stores(conn)

    def customers(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            return catalog.list_customers(conn)

    def riders(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            return catalog.list_riders(conn)

    def menu(self, store_id: str | None = None) -> list[dict[str, Any]]:
        with self.read() as conn:
            return catalog.list_menu(conn, store_id)

    # -- queries ------------------------------------------------------------------------------

    def order(self, order_id: str) -> dict[str, Any]:
        from . import ordering

        with self.read() as conn:
            return ordering.load(conn, order_id)

    def orders(self, customer_id: str | None = None, store_id: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        with self.read() as conn:
            if customer_id is not None:
                catalog.get_customer(conn, customer_id)
            if store_id is not None:
                catalog.get_store(conn, store_id)
            return status_view.list_orders(conn, customer_id, store_id, status, limit, offset)

    def status(self, order_id: str) -> dict[str, Any]:
        with self.read() as conn:
            return status_view.get_status(conn, order_id)

    def store_queue(self, store_id: str, status_filter: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        from . import store

        with self.read() as conn:
            return store.queue(conn, store_id, status_filter, limit)

    def deliveries(self, available: bool = False, rider_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        from . import delivery

        with self.read() as conn:
            return delivery.list_deliveries(conn, available, rider_id, limit)

    def payments_list(self, limit: int = 100) -> list[dict[str, Any]]:
        from . import payment

        with self.read() as conn:
            return payment.list_payments(conn, limit)

    def payment(self, order_id: str) -> dict[str, Any]:
        from . import payment

        with self.read() as conn:
            return payment.get_payment(conn, order_id)

    def notifications(self, recipient_type: str | None = None, recipient_id: str | None = None, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        from . import notification

        with self.read() as conn:
            if recipient_type is not None:
                {"customer": catalog.get_customer, "store": catalog.get_store, "rider": catalog.get_rider}[recipient_type](conn, recipient_id)
            return notification.list_notifications(conn, recipient_type, recipient_id, after, limit)

    def events(self, after: int = 0, order_id: str | None = None, limit: int = 500) -> list[StoredEvent]:
        """Events after the given id, oldest first (the notification log)."""
        with self.read() as conn:
            return eventlog.read(conn, after, order_id=order_id, limit=limit)

    def latest_events(self, count: int = 20, order_id: str | None = None) -> list[StoredEvent]:
        with self.read() as conn:
            return eventlog.latest(conn, count, order_id)

    def head(self) -> int:
        with self.read() as conn:
            return eventlog.head(conn)

    # -- operations ---------------------------------------------------------------------------

    def dead_letters(self, include_resolved: bool = False) -> list[dict[str, Any]]:
        from .messagebus import dead_letter_row

        table = eventlog.dead_letters
        query = sa.select(table).order_by(table.c.id)
        if not include_resolved:
            query = query.where(table.c.resolved_at.is_(None))
        with self.read() as conn:
            return [dead_letter_row(r) for r in conn.execute(query)]

    def retry_dead_letter(self, dead_letter_id: int) -> dict[str, Any]:
        return self.bus.retry_dead_letter(dead_letter_id)

    def breaker(self) -> dict[str, Any]:
        with database_errors():
            return self.payments.breaker_state()

    def health(self) -> dict[str, Any]:
        """What `doctor` reports: reachability, schema, lag per subscriber, dead letters, breaker."""
        from . import ordering
        checks: dict[str, Any] = {"database": storage.describe(self.url), "backend": self.url.get_backend_name()}
        with database_errors():
            version = storage.schema_version(self.db)
            lag = self.bus.lag()
            with self.read() as conn:
                pending_payments = conn.execute(
                    sa.select(sa.func.count()).select_from(ordering.orders).where(ordering.orders.c.status == "PENDING_PAYMENT")
                ).scalar_one()
                counts = status_view.counts_by_status(conn)
                head = eventlog.head(conn)
        dead = self.dead_letters()
        breaker = self.breaker()
        problems = []
        if version != storage.SCHEMA_HEAD:
            problems.append(f"schema is at {version}, expected {storage.SCHEMA_HEAD}")
        for name, behind in lag.items():
            if behind:
                problems.append(f"subscriber {name} is {behind} events behind")
        if dead:
            problems.append(f"{len(dead)} dead letter(s) waiting: see `deliverycli deadletters list`")
        if breaker["state"] != "closed":
            problems.append(f"payment circuit breaker is {breaker['state']}")
        checks.update(
            {
                "id": "doctor",
                "reachable": True,
                "schema": {"current": version, "expected": storage.SCHEMA_HEAD, "ready": version == storage.SCHEMA_HEAD},
                "events": head,
                "subscribers": [{"id": name, "lag": behind} for name, behind in lag.items()],
                "dead_letters": len(dead),
                "breaker": breaker,
                "pending_payments": pending_payments,
                "orders_by_status": counts,
                "problems": problems,
                "healthy": not problems,
            }
        )
        return checks

    # -- the console's queries (read-only; each one bounded, so a 100k-order database stays fast) --

    def feed(
        self,
        after: int | None = None,
        limit: int = 200,
        order_id: str | None = None,
        event_type: str | None = None,
        context: str | None = None,
        customer_id: str | None = None,
        store_id: str | None = None,
        rider_id: str | None = None,
    ) -> list[StoredEvent]:
        """Events for a live feed, oldest first: the newest ``limit``, or those after ``after``; optionally
        filtered, also to the orders of one customer, store or rider. Membership is read from tables
        written in the same transaction as the events that matter (an order with OrderPlaced, a rider
        with DeliveryPickedUp), so a follower never skips an event whose order it cannot see yet."""
        from . import delivery, ordering

        order_ids = []
        if customer_id is not None:
            order_ids.append(sa.select(ordering.orders.c.id).where(ordering.orders.c.customer_id == customer_id))
        if store_id is not None:
            order_ids.append(sa.select(ordering.orders.c.id).where(ordering.orders.c.store_id == store_id))
        if rider_id is not None:
            order_ids.append(sa.select(delivery.deliveries.c.order_id).where(delivery.deliveries.c.rider_id == rider_id))
        with self.read() as conn:
            return eventlog.feed(conn, after, limit, order_id=order_id, event_type=event_type, context=context, order_ids=order_ids)

    def store_counts(self, store_id: str) -> dict[str, int]:
        """How many of the store's tickets are NEW, COOKING, READY, CANCELLED and REJECTED."""
        from . import store

        with self.read() as conn:
            return store.queue_counts(conn, store_id)

    def operations(self, stuck_after_s: float = 600.0, now: datetime | None = None, minutes: int = 30, stuck_limit: int = 50) -> dict[str, Any]:
        """What an operator watches: orders by status, events per minute over the last ``minutes``,
        each subscriber's position and lag, dead letters, the breaker, and orders stuck in a
        non-final status for longer than ``stuck_after_s``."""
        now = now or utcnow()
        boundaries = [now - timedelta(minutes=minutes - i) for i in range(minutes + 1)]
        with database_errors():
            lag = self.bus.lag()
            with self.read() as conn:
                positions = eventlog.positions(conn)
                head = eventlog.head(conn)
                counts = status_view.counts_by_status(conn)
                per_minute = eventlog.counts_per_interval(conn, boundaries)
                stuck, stuck_count = status_view.stuck_orders(conn, now - timedelta(seconds=stuck_after_s), stuck_limit)
        return {
            "id": "operations",
            "head": head,
            "orders_by_status": counts,
            "events_per_minute": per_minute,
            "subscribers": [{"id": name, "position": positions.get(name, 0), "lag": behind} for name, behind in lag.items()],
            "dead_letters": self.dead_letters(),
            "breaker": self.breaker(),
            "stuck_after_s": stuck_after_s,
            "stuck": stuck,
            "stuck_count": stuck_count,
        }

    def rider_deliveries(self, rider_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """A rider's deliveries on the road, then the most recently completed ones (bounded reads)."""
        from . import delivery

        with self.read() as conn:
            return delivery.rider_deliveries(conn, rider_id, limit)

    # -- proof and repair (invariants.py, rebuild.py) ------------------------------------------------

    def check_invariants(self) -> Any:
        """Check SPEC §5–§6 against the event log; returns an ``invariants.CheckResult`` (empty ``problems`` when all hold)."""
        from . import invariants

        return invariants.run(self)

    def rebuild_views(self, progress: Any = None, mode: str = "auto") -> dict[str, Any]:
        """Rebuild the status view from the event log (notifications are never re-sent); ``progress(done, total)``."""
        from . import rebuild

        return rebuild.rebuild_status_view(self, progress=progress, mode=mode)


def open_engine(db: str | None = None, *, catch_up: bool = True, **overrides: Any) -> Engine:
    """Open the engine on ``db`` (a path or URL; default from settings)."""
    from ..settings import load_settings

    return Engine.open(load_settings(db=db, **overrides), catch_up=catch_up)
