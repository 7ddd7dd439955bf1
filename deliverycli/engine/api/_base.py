"""What every group shares: the engine it calls, and the list aliases its signatures use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..views import DeliveryView, EventView, Notification, OrderSummary, PaymentView, StoreTicket

if TYPE_CHECKING:
    from ..bootstrap import Engine

# Module-level aliases: inside the groups, ``list`` names their own method.
OrderSummaries = list[OrderSummary]
Tickets = list[StoreTicket]
DeliveryViews = list[DeliveryView]
PaymentViews = list[PaymentView]
NotificationViews = list[Notification]
EventViews = list[EventView]
Items = list[str] | list[tuple[str, int]]


class _Group:
    """One group of the API: calls on the engine it was made for."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
