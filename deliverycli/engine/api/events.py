"""``engine.events``: The event log (the notification log): every event with its global sequence number."""

from __future__ import annotations

import sqlalchemy as sa

from .. import eventlog
from ..views import EventView
from ._base import EventViews, _Group


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
        from ..delivery import deliveries
        from ..ordering.repository import orders

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
