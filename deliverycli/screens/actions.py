"""The commands each role can give, shared by its list view and the order detail view. Each asks
the engine in a worker and shows the outcome; destructive ones ask first."""

from __future__ import annotations

from typing import Any

from ..widgets.format import status_text
from .base import ConsoleScreen
from .confirm_dialog import ConfirmDialog
from .message_dialog import MessageDialog
from .reason_dialog import ReasonDialog


class CustomerActions(ConsoleScreen):
    COMMAND_ACTIONS = frozenset({"cancel_order", "confirm_delivery", "checkout"})

    def cancel(self, order_id: str) -> None:
        customer = self.console.actor

        def answered(yes: bool | None) -> None:
            if yes:
                self.act(lambda engine: engine.orders.cancel(order_id, customer), self._cancelled, self._cancel_failed(order_id))

        self.app.push_screen(
            ConfirmDialog(
                f"Cancel order {order_id}?",
                "The store decides: before it starts cooking the order is cancelled and refunded; once cooking has started the cancellation is refused.",
                yes="Cancel the order",
                no="Keep it",
            ),
            answered,
        )

    def _cancelled(self, order: dict[str, Any]) -> None:
        if order.status == "CANCELLED":
            self.notify(f"Order {order.id} is {status_text('CANCELLED')} and refunded.", title="Cancelled")
        else:
            self.notify(f"Order {order['id']} is {status_text(order['status'])}: waiting for the store.", title="Cancellation requested")
        self.reload()

    def _cancel_failed(self, order_id: str):  # noqa: ANN202
        def show(error: BaseException) -> None:
            message = getattr(error, "message", None)
            if message is None:
                self.console.show_error(error)
                return
            self.app.push_screen(MessageDialog(f"Order {order_id} was not cancelled", message, error=True))
            self.reload()

        return show

    def confirm(self, order_id: str) -> None:
        customer = self.console.actor
        self.act(
            lambda engine: engine.orders.confirm(order_id, customer),
            lambda order: (self.notify(f"You confirmed delivery of order {order.id}.", title=status_text(order.status)), self.reload()),
        )


class StoreActions(ConsoleScreen):
    COMMAND_ACTIONS = frozenset({"accept", "reject", "ready"})

    def accept(self, order_id: str) -> None:
        store = self.console.actor
        self.act(lambda engine: engine.store.accept(order_id, store), lambda _: self._done(f"Cooking order {order_id}.", order_id))

    def ready(self, order_id: str) -> None:
        store = self.console.actor
        self.act(lambda engine: engine.store.ready(order_id, store), lambda _: self._done(f"Order {order_id} is ready for a rider.", order_id))

    def reject(self, order_id: str) -> None:
        store = self.console.actor

        def answered(reason: str | None) -> None:
            if reason is not None:
                self.act(lambda engine: engine.store.reject(order_id, store, reason), lambda _: self._done(f"Order {order_id} rejected; the customer is refunded.", order_id))

        self.app.push_screen(
            ReasonDialog(f"Reject order {order_id}?", "The customer is told the reason and refunded.", "Reject order", placeholder="reason, e.g. out of ingredients"),
            answered,
        )

    def _done(self, text: str, order_id: str) -> None:
        self.notify(text, title=order_id)
        self.reload()


class RiderActions(ConsoleScreen):
    COMMAND_ACTIONS = frozenset({"pick_up", "complete"})

    def pick_up(self, order_id: str) -> None:
        rider = self.console.actor
        self.act(lambda engine: engine.deliveries.pick_up(order_id, rider), lambda _: self._done(f"You picked up order {order_id}: on your way.", order_id))

    def complete(self, order_id: str) -> None:
        rider = self.console.actor
        self.act(lambda engine: engine.deliveries.complete(order_id, rider), lambda _: self._done(f"Order {order_id} delivered.", order_id))

    def _done(self, text: str, order_id: str) -> None:
        self.notify(text, title=order_id)
        self.reload()
