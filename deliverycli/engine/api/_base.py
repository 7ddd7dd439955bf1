"""What every group shares: the engine it calls, and the list aliases its signatures use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import views

if TYPE_CHECKING:
    from ..bootstrap import Engine

# Module-level aliases: inside the groups, ``list`` names their own method. Each is made on first
# import (``__getattr__``), so a group loads only the read models its own signatures name.
LIST_ALIASES = {
    "OrderSummaries": "OrderSummary",
    "Tickets": "StoreTicket",
    "DeliveryViews": "DeliveryView",
    "PaymentViews": "PaymentView",
    "NotificationViews": "Notification",
    "EventViews": "EventView",
}
Items = list[str] | list[tuple[str, int]]


def __getattr__(name: str) -> Any:
    if name in LIST_ALIASES:
        return list[getattr(views, LIST_ALIASES[name])]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Group:
    """One group of the API: calls on the engine it was made for."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
