"""``engine.deliveries``: ``/deliveries``: the delivery list; riders pick up and complete."""

from __future__ import annotations

from ..commands import CompleteDelivery, PickUpDelivery
from ..views import DeliveryState
from ._base import DeliveryViews, OrderSummaries, _Group


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
        from ..delivery import rider_deliveries

        with self.engine.read() as conn:
            return rider_deliveries(conn, rider_id, limit)

    def list(self, available: bool = False, rider_id: str | None = None, limit: int = 200) -> DeliveryViews:
        """Deliveries newest first: only those waiting for a rider, or only one rider's."""
        from ..delivery import list_deliveries

        with self.engine.read() as conn:
            return list_deliveries(conn, available, rider_id, limit)

    def upcoming(self, limit: int = 100) -> OrderSummaries:
        """Orders being cooked, soonest ready first (the store's estimate, ``ready_at``): when a rider should come."""
        from ..status import cooking_orders

        with self.engine.read() as conn:
            return cooking_orders(conn, limit)
