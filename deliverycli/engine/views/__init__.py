"""The typed read models: what every query and command of the engine returns.

The CLI's ``--json``, the console and the HTTP gateway all serialise these same models
(``model_dump(mode="json")``), so a status, an order or a delivery has one shape everywhere, and an
OpenAPI schema can say what it is. Times serialise as ISO 8601 with their UTC offset.

Models are frozen and build their validators on first use (``defer_build``). They live in one module
per area, imported when a name is first asked for (``from .views import StatusView``), so a
command-line query defines only the models of its area: even a deferred model's class costs time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .deliveries import DeliveryState, DeliveryView
    from .eventlog import EventView
    from .model import ReadModel, Timestamp
    from .operations import (
        Breaker, CatchUp, DeadLetter, Health, InitReport, Operations, Readiness, SchemaState, SubscriberLag, SubscriberPosition, WorkerBatch,
        WorkerRun, WorkerView,
    )
    from .orders import OrderPage, OrderSummary, OrderView, StatusView, TimelineEntry, TimerView
    from .payments import Notification, PaymentView
    from .reference import Customer, MenuItem, Rider, Store
    from .store import StoreTicket, TicketState

# Each name's module in this package.
MODULES = {
    "ReadModel": "model", "Timestamp": "model",
    "Store": "reference", "Customer": "reference", "Rider": "reference", "MenuItem": "reference",
    "OrderView": "orders", "OrderSummary": "orders", "OrderPage": "orders", "TimelineEntry": "orders", "TimerView": "orders", "StatusView": "orders",
    "TicketState": "store", "StoreTicket": "store",
    "DeliveryState": "deliveries", "DeliveryView": "deliveries",
    "PaymentView": "payments", "Notification": "payments",
    "EventView": "eventlog",
    "DeadLetter": "operations", "Breaker": "operations", "SubscriberLag": "operations", "SubscriberPosition": "operations",
    "WorkerView": "operations", "WorkerBatch": "operations", "WorkerRun": "operations", "SchemaState": "operations",
    "Health": "operations", "Operations": "operations", "Readiness": "operations", "CatchUp": "operations", "InitReport": "operations",
}

__all__ = sorted(MODULES)


def __getattr__(name: str) -> Any:
    """A read model, its module imported on first access."""
    if name not in MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{MODULES[name]}"), name)
    globals()[name] = value  # later lookups find it directly
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *MODULES])
