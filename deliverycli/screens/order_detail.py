"""One order: its live status, parties, items and timeline (the CQRS status view), with the
commands the current role may give on it."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Header, Static

from ..output import jsonable
from ..widgets.footer import ConsoleFooter
from ..widgets.format import hour_minute, money, status_text
from ..widgets.table import ConsoleTable
from .actions import CustomerActions, RiderActions, StoreActions

if TYPE_CHECKING:
    from ..backend import Backend

# What a pending deadline does when it falls due (engine/deadlines).
DEADLINES = {"acceptance": "rejected unless accepted", "pickup": "alert unless picked up", "confirm": "auto-confirmed"}

# Which commands each role has here; the engine still decides whether each is allowed.
ROLE_ACTIONS = {
    "customer": {"cancel_order", "confirm_delivery"},
    "store": {"accept", "reject", "ready"},
    "rider": {"pick_up", "complete"},
}


OrderRead = tuple[dict[str, Any], dict[str, Any]]  # the status view, the order


def read_order(engine: Backend, order_id: str) -> OrderRead:
    """What the detail shows: the order's status view (with its timeline) and the order (items, address)."""
    return jsonable(engine.orders.status(order_id)), jsonable(engine.orders.get(order_id))


class OrderDetailScreen(CustomerActions, StoreActions, RiderActions):
    CSS_PATH = "order_detail.tcss"
    view_name = "Order detail"
    COMMAND_ACTIONS = frozenset().union(*ROLE_ACTIONS.values())
    BINDINGS = [
        Binding("c", "cancel_order", "Cancel order"),
        Binding("d", "confirm_delivery", "Confirm delivery"),
        Binding("a", "accept", "Accept"),
        Binding("x", "reject", "Reject"),
        Binding("r", "ready", "Ready"),
        Binding("p", "pick_up", "Pick up"),
        Binding("c", "complete", "Complete"),
    ]

    def __init__(self, order_id: str, loaded: OrderRead | None = None) -> None:
        """``loaded``: the order as ``read_order`` read it just now, shown before the first paint."""
        super().__init__()
        self.order_id = order_id
        self._shown = False
        self._preloaded = loaded

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="detail-top"):
            yield Static(id="summary", markup=False)
            yield Static(id="items", markup=False)
        yield ConsoleTable("#", "At", "Status", "Event", "Actor", id="timeline", zebra_stripes=True)
        yield ConsoleFooter()

    def on_mount(self) -> None:
        table = self.query_one("#timeline", ConsoleTable)
        table.border_title = "Timeline"
        self.query_one("#summary", Static).border_title = f"Order {self.order_id}"
        self.query_one("#items", Static).border_title = "Items"
        table.focus()
        if self._preloaded is not None:
            self.show_order(self._preloaded)

    def reload(self) -> None:
        if self._preloaded is not None:  # the first load (on mount) was done before the push
            self._preloaded = None
            return
        self.load("order", partial(read_order, order_id=self.order_id), self.show_order, self._not_loaded)

    def show_order(self, loaded: OrderRead) -> None:
        view, order = loaded
        self._shown = True
        store = self.console.person("store", view["store_id"])["name"]
        lines = [
            f"Status    {status_text(view['status'])}" + (
                f" · ready around {hour_minute(view['ready_at'], self.console.mask_times)}" if view.get("ready_at") and view["status"] in ("COOKING", "CANCEL_PENDING") else ""
            ),
            f"Customer  {view['customer_id']}",
            f"Store     {store}",
            f"Rider     {view['rider_id'] or '-'}",
            f"Address   {order['address']}",
            f"Total     {money(view['total'], view['currency'])}",
            f"Placed    {self.time(view['placed_at'])}",
        ]
        if view.get("reason"):
            lines.append(f"Reason    {view['reason']}")
        for deadline in view.get("deadlines") or []:  # pending: what the system does, and when, unless someone acts first
            lines.append(f"Deadline  {DEADLINES.get(deadline['kind'], deadline['kind'])} at {self.time(deadline['due_at'])}")
        self.query_one("#summary", Static).update("\n".join(lines))
        self.query_one("#items", Static).update(
            "\n".join(f"{i['quantity']} × {i['name']}  {money(i['unit_price'] * i['quantity'], view['currency'])}" for i in order["items"])
        )
        table = self.query_one("#timeline", ConsoleTable)
        if table.show([
            (str(step["event_id"]), (str(step["event_id"]), self.time(step["at"]), status_text(step["status"]), step["event"], step["actor"]))
            for step in view["timeline"]
        ]) and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)  # the newest step

    def _not_loaded(self, error: BaseException) -> None:
        self.console.show_error(error)
        if not self._shown and self.is_current:  # e.g. no such order: nothing to show
            self.dismiss()

    def highlighted_order_id(self) -> str | None:
        return self.order_id  # every row of this view is about this order

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.COMMAND_ACTIONS:
            if action not in ROLE_ACTIONS.get(self.console.role or "", set()):
                return False
        return super().check_action(action, parameters)

    def action_cancel_order(self) -> None:
        self.cancel(self.order_id)

    def action_confirm_delivery(self) -> None:
        self.confirm(self.order_id)

    def action_accept(self) -> None:
        self.accept(self.order_id)

    def action_reject(self) -> None:
        self.reject(self.order_id)

    def action_ready(self) -> None:
        self.ready(self.order_id)

    def action_pick_up(self) -> None:
        self.pick_up(self.order_id)

    def action_complete(self) -> None:
        self.complete(self.order_id)

    def action_back(self) -> None:
        self.dismiss()
