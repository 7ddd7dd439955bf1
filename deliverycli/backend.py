"""What the console asks of the engine: a typed backend protocol (harlequin's adapter idea).

The console (app.py, screens/) is written against ``Backend`` only. The local engine
(``deliverycli.engine.bootstrap.Engine``, opened on a database) implements it; a remote one, over
the HTTP gateway, could implement the same groups and the console would not change. Every call
returns the engine's typed read models (``deliverycli.engine.views``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .engine.views import (
        Customer,
        DeadLetter,
        DeliveryState,
        DeliveryView,
        EventView,
        MenuItem,
        Notification,
        Operations,
        OrderPage,
        OrderSummary,
        OrderView,
        Rider,
        StatusView,
        Store,
        StoreTicket,
        TicketState,
    )
    from .settings import Settings


class OrdersBackend(Protocol):
    def place(
        self, customer_id: str, store_id: str, items: Sequence[str], address: str, card: str | None = None, idempotency_key: str | None = None
    ) -> OrderView: ...
    def cancel(self, order_id: str, customer_id: str) -> OrderView: ...
    def confirm(self, order_id: str, customer_id: str) -> OrderView: ...
    def get(self, order_id: str) -> OrderView: ...
    def status(self, order_id: str) -> StatusView: ...
    def list(self, customer_id: str | None = None, store_id: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0) -> Sequence[OrderSummary]: ...
    def count(self, customer_id: str | None = None, store_id: str | None = None, status: str | None = None) -> int: ...
    def page(self, customer_id: str | None = None, store_id: str | None = None, status: str | None = None, limit: int = 50, after: str | None = None) -> OrderPage: ...


class StoreBackend(Protocol):
    def accept(self, order_id: str, store_id: str, prep_min: int | None = None) -> TicketState: ...
    def reject(self, order_id: str, store_id: str, reason: str) -> TicketState: ...
    def ready(self, order_id: str, store_id: str) -> TicketState: ...
    def pause(self, store_id: str, reason: str | None = None) -> Store: ...
    def resume(self, store_id: str) -> Store: ...
    def queue(self, store_id: str, status: str | None = None, limit: int = 200, since: datetime | None = None) -> Sequence[StoreTicket]: ...
    def counts(self, store_id: str, since: datetime | None = None) -> dict[str, int]: ...
    def today(self) -> datetime: ...


class DeliveriesBackend(Protocol):
    def pick_up(self, order_id: str, rider_id: str) -> DeliveryState: ...
    def complete(self, order_id: str, rider_id: str) -> DeliveryState: ...
    def of_rider(self, rider_id: str, limit: int = 100) -> Sequence[DeliveryView]: ...
    def upcoming(self, limit: int = 100) -> Sequence[OrderSummary]: ...
    def list(self, available: bool = False, rider_id: str | None = None, limit: int = 200) -> Sequence[DeliveryView]: ...


class CatalogBackend(Protocol):
    def stores(self) -> Sequence[Store]: ...
    def customers(self) -> Sequence[Customer]: ...
    def riders(self) -> Sequence[Rider]: ...
    def menu(self, store_id: str | None = None) -> Sequence[MenuItem]: ...
    def store(self, store_id: str) -> Store: ...
    def sold_out(self, item_id: str, store_id: str) -> MenuItem: ...
    def available(self, item_id: str, store_id: str) -> MenuItem: ...


class NotificationsBackend(Protocol):
    def list(self, recipient_type: str | None = None, recipient_id: str | None = None, after: int = 0, limit: int = 100) -> Sequence[Notification]: ...


class EventsBackend(Protocol):
    def head(self) -> int: ...
    def feed(
        self, after: int | None = None, limit: int = 200, order_id: str | None = None, event_type: str | None = None,
        context: str | None = None, customer_id: str | None = None, store_id: str | None = None, rider_id: str | None = None,
    ) -> Sequence[EventView]: ...


class OpsBackend(Protocol):
    def overview(self, stuck_after_s: float = 600.0, now: datetime | None = None, minutes: int = 30, stuck_limit: int = 50) -> Operations: ...
    def retry_dead_letter(self, dead_letter_id: int) -> DeadLetter: ...


class Backend(Protocol):
    """Everything the console does, in the engine's groups."""

    orders: OrdersBackend
    store: StoreBackend
    deliveries: DeliveriesBackend
    catalog: CatalogBackend
    notifications: NotificationsBackend
    events: EventsBackend
    ops: OpsBackend

    def close(self) -> None: ...


def open_local(settings: Settings, *, readonly: bool = False) -> Backend:
    """The engine on the settings' database, in this process; ``readonly`` does not catch up
    (finish what crashed processes left), as a watcher should not."""
    from .engine.bootstrap import Engine

    return Engine.open(settings, catch_up=not readonly)
