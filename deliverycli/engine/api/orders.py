"""``engine.orders``: ``/orders`` and ``/statusChecks``: a customer's orders, and every order's status and timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import status as status_view
from ..errors import CancellationRefused
from ..lifecycle import OrderStatus
from ..views import OrderPage, OrderView, StatusView
from ._base import Items, OrderSummaries, _Group

if TYPE_CHECKING:
    from sqlalchemy import Connection


class Orders(_Group):
    """``/orders`` and ``/statusChecks``: a customer's orders, and every order's status and timeline."""

    def place(
        self, customer_id: str, store_id: str, items: Items, address: str, card: str | None = None, idempotency_key: str | None = None
    ) -> OrderView:
        """Place and pay an order. ``items`` are ``"MENU_ID[:QTY]"`` strings or ``(menu_id, qty)`` pairs.

        With ``idempotency_key``, a retry (say, after a crash) returns the order the key first placed,
        charged at most once. Raises PaymentFailed when the payment is declined or unavailable.
        """
        from ..commands import PlaceOrder
        from ..validation import parse_item

        parsed = tuple(parse_item(i) if isinstance(i, str) else (i[0], i[1]) for i in items)
        return self.engine.handle(PlaceOrder(customer_id, store_id, parsed, address, card, idempotency_key))

    def cancel(self, order_id: str, customer_id: str) -> OrderView:
        """Ask to cancel; the store decides. Raises Conflict, with the store's reason, when refused."""
        from ..commands import CancelOrder  # commands only: a query never loads them

        self.engine.handle(CancelOrder(order_id, customer_id))
        order = self.get(order_id)
        if order.status not in (OrderStatus.CANCELLED, OrderStatus.CANCEL_PENDING):
            reason = self.status(order_id).reason or "the store refused"  # the status view keeps the refusal's reason
            raise CancellationRefused(order_id, order.status.value, reason)
        return order

    def confirm(self, order_id: str, customer_id: str) -> OrderView:
        """The ordering customer confirms the delivery arrived."""
        from ..commands import ConfirmDelivery

        return self.engine.handle(ConfirmDelivery(order_id, customer_id))

    def get(self, order_id: str) -> OrderView:
        """One order with its lines, as the ordering context holds it."""
        from ..ordering.repository import order_view

        with self.engine.read() as conn:
            return order_view(conn, order_id)

    def status(self, order_id: str) -> StatusView:
        """The CQRS status view of an order: its status, timeline and pending deadlines (with their due time)."""
        from ..deadlines import timers

        with self.engine.read() as conn:
            view = status_view.get_status(conn, order_id)
            return view.model_copy(update={"deadlines": timers.pending(conn, order_id)})

    def count(self, customer_id: str | None = None, store_id: str | None = None, status: str | None = None) -> int:
        """How many orders there are (of a customer, of a store, in a status), from the status view."""
        with self.engine.read() as conn:
            return status_view.count_orders(conn, customer_id, store_id, status)

    def list(
        self, customer_id: str | None = None, store_id: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> OrderSummaries:
        """A page of orders, newest first (from the status view); NotFound for an unknown customer or store."""
        with self.engine.read() as conn:
            known_customer_and_store(conn, customer_id, store_id)
            return status_view.list_orders(conn, customer_id, store_id, status, limit, offset)

    def page(
        self, customer_id: str | None = None, store_id: str | None = None, status: str | None = None, limit: int = 50, after: str | None = None
    ) -> OrderPage:
        """A page of orders, newest first, after the cursor ``after`` (the previous page's ``next``):
        keyset pagination, as fast at the thousandth page as at the first; NotFound for an unknown customer or store."""
        with self.engine.read() as conn:
            known_customer_and_store(conn, customer_id, store_id)
            return status_view.page_orders(conn, customer_id, store_id, status, limit, after)


def known_customer_and_store(conn: Connection, customer_id: str | None, store_id: str | None) -> None:
    """NotFound for a customer or store filter that names no one (the catalog is loaded only for a filter)."""
    if customer_id is None and store_id is None:
        return
    from .. import catalog

    if customer_id is not None:
        catalog.get_customer(conn, customer_id)
    if store_id is not None:
        catalog.get_store(conn, store_id)
