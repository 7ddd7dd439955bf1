"""``engine.store``: A store's order list (kitchen tickets): the store owner decides, cooks and hands over."""

from __future__ import annotations

from datetime import datetime

from ..commands import AcceptOrder, MarkReady, RejectOrder
from ..views import Store, TicketState
from ._base import Tickets, _Group


class StoreOrders(_Group):
    """A store's order list (kitchen tickets): the store owner decides, cooks and hands over."""

    def accept(self, order_id: str, store_id: str, prep_min: int | None = None) -> TicketState:
        """Start cooking (only the order's store); the food should be ready in ``prep_min`` minutes
        (default: the store's usual preparation time)."""
        return self.engine.handle(AcceptOrder(order_id, store_id, prep_min))

    def pause(self, store_id: str, reason: str | None = None) -> Store:
        """Stop taking orders (ordering is refused with the reason); the kitchen's tickets go on."""
        from .. import catalog

        with self.engine.write() as conn:
            return catalog.pause_store(conn, store_id, reason, self.engine.clock.now())

    def resume(self, store_id: str) -> Store:
        """Take orders again."""
        from .. import catalog

        with self.engine.write() as conn:
            return catalog.resume_store(conn, store_id)

    def reject(self, order_id: str, store_id: str, reason: str) -> TicketState:
        """Refuse a new order, saying why; it is refunded."""
        return self.engine.handle(RejectOrder(order_id, store_id, reason))

    def ready(self, order_id: str, store_id: str) -> TicketState:
        """Cooking finished: the order goes on the delivery list."""
        return self.engine.handle(MarkReady(order_id, store_id))

    def queue(self, store_id: str, status: str | None = None, limit: int = 200, since: datetime | None = None) -> Tickets:
        """The store's tickets, newest first (only those in ``status`` if given; with ``since``, the
        ones handed over to a rider (PICKED_UP, DONE) only since then). A NEW ticket carries its
        acceptance deadline (``accept_by``)."""
        from ..deadlines import timers
        from ..store import queue

        with self.engine.read() as conn:
            tickets = queue(conn, store_id, status, limit, since)
            due = timers.acceptance_due(conn, [t.order_id for t in tickets if t.status == "NEW"])
        return [t.model_copy(update={"accept_by": due[t.order_id]}) if t.order_id in due else t for t in tickets]

    def counts(self, store_id: str, since: datetime | None = None) -> dict[str, int]:
        """How many of the store's tickets are in each status (the handed-over ones since ``since``, if given)."""
        from ..store import queue_counts

        with self.engine.read() as conn:
            return queue_counts(conn, store_id, since)

    def today(self) -> datetime:
        """The start of today, local time, by the engine's clock: what "today's" done orders are counted from."""
        return self.engine.clock.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
