"""The engine's typed API, one group per route of the seed's gateway.

``engine.orders``, ``engine.store``, ``engine.deliveries``, ``engine.payments``, ``engine.catalog``,
``engine.notifications``, ``engine.events`` and ``engine.ops``: each command builds a command and
hands it to the message bus (``engine.handle``); each query reads in one read-only transaction
(``engine.read()``). Every result is a typed read model from ``views``. The CLI, the console and the
HTTP gateway are thin layers over these groups.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import catalog, eventlog
from . import status as status_view
from .commands import AcceptOrder, CancelOrder, CompleteDelivery, ConfirmDelivery, MarkReady, PickUpDelivery, PlaceOrder, RejectOrder
from .errors import Conflict
from .lifecycle import OrderStatus
from .views import (
    Actor,
    Breaker,
    CatchUp,
    Customer,
    DeadLetter,
    DeliveryState,
    DeliveryView,
    EventView,
    Health,
    IssuedToken,
    MenuItem,
    Notification,
    Operations,
    OrderSummary,
    OrderView,
    PaymentView,
    Rider,
    StatusView,
    Store,
    StoreTicket,
    TicketState,
    Token,
)

if TYPE_CHECKING:
    from .bootstrap import Engine
    from .invariants import CheckResult

# Module-level aliases: inside the groups, ``list`` names their own method.
OrderSummaries = list[OrderSummary]
Tickets = list[StoreTicket]
DeliveryViews = list[DeliveryView]
PaymentViews = list[PaymentView]
NotificationViews = list[Notification]
EventViews = list[EventView]
Items = list[str] | list[tuple[str, int]]

__all__ = ["Catalog", "Deliveries", "Events", "Notifications", "Ops", "Orders", "Payments", "StoreOrders", "Tokens", "CatchUp"]


class _Group:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine


class Orders(_Group):
    """``/orders`` and ``/statusChecks``: a customer's orders, and every order's status and timeline."""

    def place(
        self, customer_id: str, store_id: str, items: Items, address: str, card: str | None = None, idempotency_key: str | None = None
    ) -> OrderView:
        """Place and pay an order. ``items`` are ``"MENU_ID[:QTY]"`` strings or ``(menu_id, qty)`` pairs.

        With ``idempotency_key``, a retry (say, after a crash) returns the order the key first placed,
        charged at most once. Raises PaymentFailed when the payment is declined or unavailable.
        """
        from .validation import parse_item

        parsed = tuple(parse_item(i) if isinstance(i, str) else (i[0], i[1]) for i in items)
        return self.engine.handle(PlaceOrder(customer_id, store_id, parsed, address, card, idempotency_key))

    def cancel(self, order_id: str, customer_id: str) -> OrderView:
        """Ask to cancel; the store decides. Raises Conflict, with the store's reason, when refused."""
        self.engine.handle(CancelOrder(order_id, customer_id))
        order = self.get(order_id)
        if order.status not in (OrderStatus.CANCELLED, OrderStatus.CANCEL_PENDING):
            reason = self.status(order_id).reason or "the store refused"  # the status view keeps the refusal's reason
            raise Conflict(f"cancellation of order {order_id} was refused: {reason}; the order is {order.status}")
        return order

    def confirm(self, order_id: str, customer_id: str) -> OrderView:
        """The ordering customer confirms the delivery arrived."""
        return self.engine.handle(ConfirmDelivery(order_id, customer_id))

    def get(self, order_id: str) -> OrderView:
        """One order with its lines, as the ordering context holds it."""
        from .ordering.repository import order_view

        with self.engine.read() as conn:
            return order_view(conn, order_id)

    def status(self, order_id: str) -> StatusView:
        """The CQRS status view of an order: its status and timeline."""
        with self.engine.read() as conn:
            return status_view.get_status(conn, order_id)

    def count(self, customer_id: str | None = None, store_id: str | None = None, status: str | None = None) -> int:
        """How many orders there are (of a customer, of a store, in a status), from the status view."""
        with self.engine.read() as conn:
            return status_view.count_orders(conn, customer_id, store_id, status)

    def list(
        self, customer_id: str | None = None, store_id: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> OrderSummaries:
        """A page of orders, newest first (from the status view); NotFound for an unknown customer or store."""
        with self.engine.read() as conn:
            if customer_id is not None:
                catalog.get_customer(conn, customer_id)
            if store_id is not None:
                catalog.get_store(conn, store_id)
            return status_view.list_orders(conn, customer_id, store_id, status, limit, offset)


class StoreOrders(_Group):
    """A store's order list (kitchen tickets): the store owner decides, cooks and hands over."""

    def accept(self, order_id: str, store_id: str) -> TicketState:
        """Start cooking (only the order's store)."""
        return self.engine.handle(AcceptOrder(order_id, store_id))

    def reject(self, order_id: str, store_id: str, reason: str) -> TicketState:
        """Refuse a new order, saying why; it is refunded."""
        return self.engine.handle(RejectOrder(order_id, store_id, reason))

    def ready(self, order_id: str, store_id: str) -> TicketState:
        """Cooking finished: the order goes on the delivery list."""
        return self.engine.handle(MarkReady(order_id, store_id))

    def queue(self, store_id: str, status: str | None = None, limit: int = 200) -> Tickets:
        """The store's tickets, newest first (only those in ``status`` if given)."""
        from .store import queue

        with self.engine.read() as conn:
            return queue(conn, store_id, status, limit)

    def counts(self, store_id: str) -> dict[str, int]:
        """How many of the store's tickets are in each status."""
        from .store import queue_counts

        with self.engine.read() as conn:
            return queue_counts(conn, store_id)


class Deliveries(_Group):
    """``/deliveries``: the delivery list; riders pick up and complete."""

    def pick_up(self, order_id: str, rider_id: str) -> DeliveryState:
        """Take a delivery; of two riders racing for it exactly one wins (the other hears who)."""
        return self.engine.handle(PickUpDelivery(order_id, rider_id))

    def complete(self, order_id: str, rider_id: str) -> DeliveryState:
        """Hand the food over (only the rider who picked it up)."""
        return self.engine.handle(CompleteDelivery(order_id, rider_id))

    def of_rider(self, rider_id: str, limit: int = 100) -> DeliveryViews:
        """A rider's deliveries on the road, then the most recently completed ones."""
        from .delivery import rider_deliveries

        with self.engine.read() as conn:
            return rider_deliveries(conn, rider_id, limit)

    def list(self, available: bool = False, rider_id: str | None = None, limit: int = 200) -> DeliveryViews:
        """Deliveries newest first: only those waiting for a rider, or only one rider's."""
        from .delivery import list_deliveries

        with self.engine.read() as conn:
            return list_deliveries(conn, available, rider_id, limit)


class Payments(_Group):
    """``/payments``: each order's payment, and the payment circuit breaker."""

    def get(self, order_id: str) -> PaymentView:
        from .payment.records import get_payment

        with self.engine.read() as conn:
            return get_payment(conn, order_id)

    def breaker(self) -> Breaker:
        """The payment circuit breaker that every process shares."""
        from . import health

        settings = self.engine.settings
        with self.engine.read() as conn:
            return health.breaker_state(conn, settings.breaker_fail_max, settings.breaker_reset_timeout_s)

    def list(self, limit: int = 100) -> PaymentViews:
        """The newest payments first."""
        from .payment.records import list_payments

        with self.engine.read() as conn:
            return list_payments(conn, limit)


class Catalog(_Group):
    """``/menus`` and the reference data every context reads: stores, customers, riders."""

    def stores(self) -> list[Store]:
        with self.engine.read() as conn:
            return catalog.list_stores(conn)

    def customers(self) -> list[Customer]:
        with self.engine.read() as conn:
            return catalog.list_customers(conn)

    def riders(self) -> list[Rider]:
        with self.engine.read() as conn:
            return catalog.list_riders(conn)

    def menu(self, store_id: str | None = None) -> list[MenuItem]:
        """Every menu item, or one store's."""
        with self.engine.read() as conn:
            return catalog.list_menu(conn, store_id)

    def add_store(self, id: str, name: str, address: str) -> Store:
        return Store(**self._write(catalog.add_store, id, name, address))

    def add_customer(self, id: str, name: str, address: str) -> Customer:
        return Customer(**self._write(catalog.add_customer, id, name, address))

    def add_rider(self, id: str, name: str, vehicle: str = "scooter") -> Rider:
        return Rider(**self._write(catalog.add_rider, id, name, vehicle))

    def add_menu_item(self, store_id: str, id: str, name: str, price: int) -> MenuItem:
        """Add an item (price in minor units) to a store's menu."""
        return MenuItem(**self._write(catalog.add_menu_item, store_id, id, name, price))

    def _write(self, add: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        with self.engine.write() as conn:
            return add(conn, *args)


class Notifications(_Group):
    """The notifications sent on every status change, per recipient."""

    def list(self, recipient_type: str | None = None, recipient_id: str | None = None, after: int = 0, limit: int = 100) -> NotificationViews:
        """Notifications oldest first (a recipient's own, if named); ``after`` pages forward by id."""
        from .notification import list_notifications

        with self.engine.read() as conn:
            if recipient_type is not None:
                {"customer": catalog.get_customer, "store": catalog.get_store, "rider": catalog.get_rider}[recipient_type](conn, recipient_id)
            return list_notifications(conn, recipient_type, recipient_id, after, limit)


class Events(_Group):
    """The event log (the notification log): every event with its global sequence number."""

    def head(self) -> int:
        """The id of the newest event (0 for an empty log): one index lookup, cheap to poll."""
        with self.engine.read() as conn:
            return eventlog.head(conn)

    def read(self, after: int = 0, order_id: str | None = None, limit: int = 500) -> EventViews:
        """Events after the given id, oldest first."""
        with self.engine.read() as conn:
            return [EventView.of(e) for e in eventlog.read(conn, after, order_id=order_id, limit=limit)]

    def latest(self, count: int = 20, order_id: str | None = None) -> EventViews:
        """The newest ``count`` events, oldest first."""
        with self.engine.read() as conn:
            return [EventView.of(e) for e in eventlog.latest(conn, count, order_id)]

    def feed(
        self, after: int | None = None, limit: int = 200, order_id: str | None = None, event_type: str | None = None,
        context: str | None = None, customer_id: str | None = None, store_id: str | None = None, rider_id: str | None = None,
    ) -> EventViews:
        """Events for a live feed, oldest first: the newest ``limit``, or those after ``after``; optionally
        filtered, also to the orders of one customer, store or rider. Membership is read from tables
        written in the same transaction as the events that matter (an order with OrderPlaced, a rider
        with DeliveryPickedUp), so a follower never skips an event whose order it cannot see yet."""
        from .delivery import deliveries
        from .ordering.repository import orders

        order_ids = []
        if customer_id is not None:
            order_ids.append(sa.select(orders.c.id).where(orders.c.customer_id == customer_id))
        if store_id is not None:
            order_ids.append(sa.select(orders.c.id).where(orders.c.store_id == store_id))
        if rider_id is not None:
            order_ids.append(sa.select(deliveries.c.order_id).where(deliveries.c.rider_id == rider_id))
        with self.engine.read() as conn:
            found = eventlog.feed(conn, after, limit, order_id=order_id, event_type=event_type, context=context, order_ids=order_ids)
            return [EventView.of(e) for e in found]


class Tokens(_Group):
    """API tokens (the identity context): who may act over HTTP, as whom."""

    def create(self, role: str, actor_id: str | None = None) -> IssuedToken:
        """A new token for ``role`` acting as ``actor_id`` (none for ops); its secret is returned only here."""
        from . import identity

        with self.engine.write() as conn:
            return identity.create(conn, role, actor_id, self.engine.clock.now())

    def list(self, include_revoked: bool = True) -> list[Token]:
        from . import identity

        with self.engine.read() as conn:
            return identity.list_tokens(conn, include_revoked)

    def revoke(self, token_id: str) -> Token:
        """Revoke a token from now on (again: no change); NotFound for an unknown id."""
        from . import identity

        with self.engine.write() as conn:
            return identity.revoke(conn, token_id, self.engine.clock.now())

    def authenticate(self, token: str) -> Actor | None:
        """Who ``token`` acts as; None when it is unknown or revoked."""
        from . import identity

        with self.engine.read() as conn:
            return identity.authenticate(conn, token)


class Ops(_Group):
    """Operating the engine: health, the operations overview, dead letters, proof and repair."""

    def health(self) -> Health:
        """Liveness and readiness: schema, each subscriber's lag, dead letters, the breaker."""
        from . import health

        engine, settings = self.engine, self.engine.settings
        return health.health(engine.db, engine.url, engine.handled(), settings.breaker_fail_max, settings.breaker_reset_timeout_s)

    def overview(self, stuck_after_s: float = 600.0, now: datetime | None = None, minutes: int = 30, stuck_limit: int = 50) -> Operations:
        """What an operator watches: see ``health.operations``."""
        from . import health

        engine, settings = self.engine, self.engine.settings
        return health.operations(
            engine.db, engine.handled(), settings.breaker_fail_max, settings.breaker_reset_timeout_s,
            now=now or engine.clock.now(), stuck_after_s=stuck_after_s, minutes=minutes, stuck_limit=stuck_limit,
        )

    def lag(self) -> dict[str, int]:
        """Events each subscriber has yet to take effect on, by subscriber."""
        with self.engine.read() as conn:
            return eventlog.lag(conn, self.engine.handled())

    def dead_letters(self, include_resolved: bool = False) -> list[DeadLetter]:
        """Events parked after their handler kept failing, oldest first."""
        with self.engine.read() as conn:
            return eventlog.list_dead_letters(conn, include_resolved)

    def retry_dead_letter(self, dead_letter_id: int) -> DeadLetter:
        """Run a parked event through its subscriber again; on success it is marked resolved."""
        from .dead_letters import retry

        return retry(self.engine.bus, dead_letter_id)

    def check_invariants(self) -> CheckResult:
        """Check SPEC §5–§6 against the event log; ``problems`` is empty when every promise holds."""
        from . import invariants

        return invariants.run(self.engine.db, self.engine.handled(), self.engine.gateway)

    def rebuild_views(self, progress: Callable[[int, int], None] | None = None, mode: str = "auto") -> dict[str, Any]:
        """Rebuild the status view from the event log (notifications are never re-sent); ``progress(done, total)``."""
        from . import rebuild

        return rebuild.rebuild_status_view(self.engine.bus, progress=progress, mode=mode)
