"""The commands each role can give, shared by its list view and the order detail view. Each asks
the engine in a worker and shows the outcome; destructive ones ask first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..output import jsonable
from ..widgets.format import hour_minute, status_text
from .base import ConsoleScreen
from .confirm_dialog import ConfirmDialog
from .menu_dialog import MenuDialog
from .message_dialog import MessageDialog
from .reason_dialog import ReasonDialog

MAX_PREP_MIN = 240  # what the engine accepts


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


def check_minutes(text: str) -> str | None:
    """What is wrong with a preparation time typed in a dialog (None: nothing)."""
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PREP_MIN:
        return f"Minutes until it is ready: a whole number from 1 to {MAX_PREP_MIN}."
    return None


class StoreActions(ConsoleScreen):
    COMMAND_ACTIONS = frozenset({"accept", "reject", "ready", "pause", "menu"})

    def own_store(self) -> dict[str, Any]:
        return next((s for s in self.console.catalog["store"] if s["id"] == self.console.actor), {"id": self.console.actor, "name": self.console.actor})

    def accept(self, order_id: str) -> None:
        """Ask how long cooking takes (the store's usual time filled in), then accept."""
        store = self.console.actor

        def answered(minutes: str | None) -> None:
            if minutes:
                self.act(
                    lambda engine: engine.store.accept(order_id, store, int(minutes)),
                    lambda ticket: self._done(f"Cooking order {order_id}: ready around {hour_minute(ticket.ready_at, self.console.mask_times)}.", order_id),
                )

        usual = self.own_store().get("prep_min", 15)
        self.app.push_screen(
            ReasonDialog(
                f"Accept order {order_id}?", "How many minutes until it is ready? The customer and the riders see when.", "Start cooking",
                placeholder="minutes", value=str(usual), check=check_minutes, variant="primary",
            ),
            answered,
        )

    def pause_or_resume(self, store: dict[str, Any], changed: Callable[[dict[str, Any]], None]) -> None:
        """Resume a paused store; pause one that takes orders (asking why, which may be left empty)."""
        store_id = store["id"]

        def done(row: Any) -> None:
            changed(jsonable(row))
            self.notify("Paused: no new orders until you resume (p)." if row.paused else "Taking orders again.", title=row.name)

        if store.get("paused"):
            self.act(lambda engine: engine.store.resume(store_id), done)
            return

        def answered(reason: str | None) -> None:
            if reason is not None:
                self.act(lambda engine: engine.store.pause(store_id, reason or None), done)

        self.app.push_screen(
            ReasonDialog(
                "Pause taking orders?", "Customers see the store is paused and why; orders already in the kitchen go on.", "Pause",
                placeholder="reason for customers (optional), e.g. back at 18:00", required=False,
            ),
            answered,
        )

    def switch_menu_item(self, store: dict[str, Any]) -> None:
        """Show the menu; the item picked is marked sold out, or available again."""
        store_id = store["id"]

        def picked(items: list[dict[str, Any]]) -> Callable[[str | None], None]:
            def switch(item_id: str | None) -> None:
                item = next((i for i in items if i["id"] == item_id), None)
                if item is None:
                    return
                if item["available"]:
                    self.act(lambda engine: engine.catalog.sold_out(item["id"], store_id), lambda _: self.notify(f"{item['name']} is sold out.", title=store["name"]))
                else:
                    self.act(lambda engine: engine.catalog.available(item["id"], store_id), lambda _: self.notify(f"{item['name']} is available again.", title=store["name"]))

            return switch

        def loaded(items: list[dict[str, Any]]) -> None:
            self.app.push_screen(MenuDialog(store["name"], items), picked(items))

        self.load("menu", lambda engine: jsonable(engine.catalog.menu(store_id)), loaded)

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
