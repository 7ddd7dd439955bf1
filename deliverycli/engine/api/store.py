"""``engine.store``: A store's order list (kitchen tickets): the store owner decides, cooks and hands over."""

from __future__ import annotations

from ..commands import AcceptOrder, MarkReady, RejectOrder
from ..views import TicketState
from ._base import Tickets, _Group


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
        from ..deadlines import timers
        from ..store import queue

        with self.engine.read() as conn:
            tickets = queue(conn, store_id, status, limit)
            due = timers.acceptance_due(conn, [t.order_id for t in tickets if t.status == "NEW"])
        return [t.model_copy(update={"accept_by": due[t.order_id]}) if t.order_id in due else t for t in tickets]

    def counts(self, store_id: str) -> dict[str, int]:
        """How many of the store's tickets are in each status."""
        from ..store import queue_counts

        with self.engine.read() as conn:
            return queue_counts(conn, store_id)
