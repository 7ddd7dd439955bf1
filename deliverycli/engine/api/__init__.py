"""The engine's typed API, one group per route of the seed's gateway.

``engine.orders``, ``engine.store``, ``engine.deliveries``, ``engine.payments``, ``engine.catalog``,
``engine.notifications``, ``engine.events``, ``engine.ops``, ``engine.timers``, ``engine.tokens`` and ``engine.webhooks``, one module each: each command builds a command and
hands it to the message bus (``engine.handle``); each query reads in one read-only transaction
(``engine.read()``). Every result is a typed read model from ``views``. The CLI, the console and the
HTTP gateway are thin layers over these groups. A new group: a module here and a line in ``GROUPS``.

Each group's module is imported when the group is first used (``Engine.orders`` and the names
below), so a command-line query loads only the group it calls, not every group's models and tables.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..views import CatchUp
    from .catalog import Catalog
    from .deliveries import Deliveries
    from .events import Events
    from .notifications import Notifications
    from .ops import Ops
    from .orders import Orders
    from .payments import Payments
    from .store import StoreOrders
    from .timers import Timers
    from .tokens import Tokens
    from .webhooks import Webhooks

# The engine's attribute for each group: (module in this package, class).
GROUPS = {
    "orders": ("orders", "Orders"),
    "store": ("store", "StoreOrders"),
    "deliveries": ("deliveries", "Deliveries"),
    "payments": ("payments", "Payments"),
    "catalog": ("catalog", "Catalog"),
    "notifications": ("notifications", "Notifications"),
    "events": ("events", "Events"),
    "ops": ("ops", "Ops"),
    "timers": ("timers", "Timers"),
    "tokens": ("tokens", "Tokens"),
    "webhooks": ("webhooks", "Webhooks"),
}
CLASS_MODULES = {cls: module for module, cls in GROUPS.values()}

__all__ = ["Catalog", "Deliveries", "Events", "Notifications", "Ops", "Orders", "Payments", "StoreOrders", "Timers", "Tokens", "Webhooks", "CatchUp"]


def group_class(attribute: str) -> type:
    """The class of the group the engine exposes as ``attribute`` (its module imported now)."""
    module, cls = GROUPS[attribute]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def __getattr__(name: str) -> Any:
    """``api.Orders`` and the others, imported on first access."""
    if name in CLASS_MODULES:
        return getattr(importlib.import_module(f"{__name__}.{CLASS_MODULES[name]}"), name)
    if name == "CatchUp":
        from ..views import CatchUp

        return CatchUp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
