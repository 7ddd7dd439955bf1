"""The customer's view: stores and their menus with a cart, checkout and payment; my orders with
their live status; notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from ..output import jsonable
from ..widgets.format import clip, money, page_text, status_text
from ..widgets.footer import ConsoleFooter, NARROW
from ..widgets.table import Column, ConsoleTable
from .actions import CustomerActions
from .base import TabbedScreen
from .checkout import CheckoutScreen
from .confirm_dialog import ConfirmDialog
from .message_dialog import MessageDialog

if TYPE_CHECKING:
    from ..backend import Backend

PAGE = 50  # orders per page: a page is one index range after a cursor (keyset), whatever the customer's history


def store_closed(store: dict[str, Any]) -> str:
    return "paused: not taking orders" + (f" ({store['pause_reason']})" if store.get("pause_reason") else "")


def store_prompt(store: dict[str, Any]) -> str:
    """A store in the shop's list: its name, and ⏸ while it takes no orders."""
    return f"⏸ {store['name']} (paused)" if store.get("paused") else store["name"]


def my_orders(engine: Backend, customer_id: str, after: str | None) -> tuple[list[dict[str, Any]], str | None, int]:
    """One page of the customer's orders after the cursor ``after``, where the next page starts
    (None: this is the last), and how many orders they have in all (a counter, not a count)."""
    page = engine.orders.page(customer_id=customer_id, limit=PAGE, after=after)
    return jsonable(page.orders), page.next, engine.orders.count(customer_id=customer_id)


class CustomerScreen(CustomerActions, TabbedScreen):
    CSS_PATH = "customer.tcss"
    view_name = "Customer"
    FIRST_TAB = "shop"
    TAB_FOCUS = {"shop": "#stores", "orders": "#order-table", "notes": "#note-table"}
    TAB_ACTIONS = {
        **dict.fromkeys(("add_item", "remove_item", "checkout", "clear_cart"), "shop"),
        **dict.fromkeys(("cancel_order", "confirm_delivery", "page"), "orders"),
    }
    BINDINGS = [
        Binding("1", "tab('shop')", "Shop", show=False),
        Binding("2", "tab('orders')", "My orders", show=False),
        Binding("3", "tab('notes')", "Notifications", show=False),
        Binding("plus,a", "add_item", "Add", key_display="+"),
        Binding("minus", "remove_item", "Remove", key_display="-"),
        Binding("p", "checkout", "Place order"),
        Binding("x", "clear_cart", "Clear cart", show=False),
        Binding("c", "cancel_order", "Cancel order"),
        Binding("d", "confirm_delivery", "Confirm delivery"),
        Binding("right_square_bracket", "page(1)", "Next page", key_display="]"),
        Binding("left_square_bracket", "page(-1)", "Previous page", key_display="["),
    ]

    def __init__(self, customer: dict[str, Any]) -> None:
        super().__init__()
        self.customer = customer
        self.store_id: str | None = None
        self.menus: dict[str, list[dict[str, Any]]] = {}
        self.carts: dict[str, dict[str, int]] = {}  # per store: menu item id -> quantity
        self.page = 0
        self.cursors: list[str | None] = [None]  # where each page shown so far starts (None: the newest)
        self.orders: list[dict[str, Any]] = []
        self._more = False  # another page of orders after this one
        self.placed: str | None = None  # an order just placed: highlighted once it is listed

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="shop", id="tabs"):
            with TabPane("1 Shop", id="shop"):
                with Horizontal():
                    yield OptionList(id="stores")
                    with Vertical(id="menu-pane"):
                        yield ConsoleTable(("Menu", "name"), ("Price", "price"), id="menu", zebra_stripes=True, empty="Pick a store on the left: its menu shows here.")
                        with Horizontal(id="cart-pane"):
                            yield ConsoleTable(("Qty", "qty"), ("Cart", "name"), ("Amount", "amount"), id="cart", empty="Empty: + adds the highlighted menu item.")
                            yield Static(id="total", markup=False)
            with TabPane("2 My orders", id="orders"):
                yield Static(id="orders-info", markup=False)
                yield ConsoleTable(
                    "Status", "Order", "Store", "Total", Column("Placed", "placed", secondary=True), id="order-table", name="my orders", zebra_stripes=True, order_column=None,
                    empty="No orders yet: press 1 for the shop, add items with +, then p to place one.",
                )
            with TabPane("3 Notifications", id="notes"):
                yield ConsoleTable("At", "Order", "Notification", id="note-table", name="notifications", zebra_stripes=True, order_column=1,
                                   empty="No notifications yet: every change to your orders is announced here.")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        menu = self.query_one("#menu", ConsoleTable)
        cart = self.query_one("#cart", ConsoleTable)
        stores = self.query_one("#stores", OptionList)
        stores.border_title = "Stores"
        stores.set_options([Option(store_prompt(s), id=s["id"]) for s in self.console.catalog["store"]])
        if stores.option_count:
            stores.highlighted = 0
        menu.border_title = "Menu"
        cart.border_title = "Cart"
        stores.focus()
        self._show_cart()

    # -- data ---------------------------------------------------------------------------------

    def reload(self) -> None:
        customer, page, after = self.customer["id"], self.page, self.cursors[self.page]
        self.load("orders", lambda engine: (page, *my_orders(engine, customer, after)), self.show_orders)
        self.load("notes", lambda engine: jsonable(engine.notifications.list("customer", customer, limit=100)), self.show_notes)

    def show_orders(self, loaded: tuple[int, list[dict[str, Any]], str | None, int]) -> None:
        page, orders, following, total = loaded
        if page != self.page:
            return  # read for a page since left: the read of the page now shown follows
        more = following is not None
        del self.cursors[self.page + 1:]
        if more:
            self.cursors.append(following)
        self.orders = orders
        names = {s["id"]: s["name"] for s in self.console.catalog["store"]}
        table = self.query_one("#order-table", ConsoleTable)
        table.show([
            (order["id"], (status_text(order["status"]), order["id"], clip(names.get(order["store_id"], order["store_id"]), 18),
                           money(order["total"], order["currency"]), self.time(order["placed_at"])))
            for order in self.orders
        ])
        if self.placed is not None and table.select_key(self.placed):
            self.placed = None  # the new order is under the cursor: c or d act on it
        if not self.orders:
            info = "No orders yet: pick a store on the Shop tab, add items with +, then p to place the order."
        else:
            pages = "  ·  ] next page" if more else ""
            pages += "  ·  [ previous page" if self.page else ""
            info = f"{page_text('Orders', self.page * PAGE + 1, len(self.orders), total)}, newest first  ·  enter: details{pages}"
        self.query_one("#orders-info", Static).update(info)
        if more != self._more:
            self._more = more
            self.refresh_bindings()  # the footer's "next page" key is enabled only with more to show

    def show_notes(self, notes: list[dict[str, Any]]) -> None:
        self.query_one("#note-table", ConsoleTable).show([
            (str(note["id"]), (self.time(note["created_at"]), note["order_id"], status_text(note["status"]) + "  " + note["message"]))
            for note in reversed(notes)
        ])

    @on(OptionList.OptionHighlighted, "#stores")
    def _store_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.store_id = event.option.id
        if self.store_id in self.menus:
            self._show_menu()
        store_id = self.store_id  # read again each time: sold-out items and a paused store show before ordering
        self.load("menu", lambda engine: (store_id, jsonable(engine.catalog.menu(store_id)), jsonable(engine.catalog.store(store_id))), self._menu_loaded)
        self._show_cart()

    @on(OptionList.OptionSelected, "#stores")
    def _store_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#menu", DataTable).focus()

    def _menu_loaded(self, loaded: tuple[str, list[dict[str, Any]], dict[str, Any]]) -> None:
        store_id, items, store = loaded
        self.menus[store_id] = items
        known = next((s for s in self.console.catalog["store"] if s["id"] == store_id), None)
        if known is not None and (known.get("paused"), known.get("pause_reason")) != (store.get("paused"), store.get("pause_reason")):
            known.update(store)
            self.query_one("#stores", OptionList).replace_option_prompt(store_id, store_prompt(store))
        if store_id == self.store_id:
            self._show_menu()

    def _show_menu(self) -> None:
        currency = self.console.settings.currency
        items = self.menus.get(self.store_id or "", [])
        table = self.query_one("#menu", ConsoleTable)
        table.empty_text = "This store has nothing on its menu yet." if self.store_id else "Pick a store on the left: its menu shows here."
        store = next((s for s in self.console.catalog["store"] if s["id"] == self.store_id), {})
        table.border_title = f"Menu · ⏸ {store_closed(store)}" if store.get("paused") else "Menu"
        table.show([
            (item["id"], (item["name"] if item.get("available", True) else f"{item['name']} (sold out)", Text(money(item["price"], currency), justify="right")))
            for item in items
        ])

    # -- the cart (UI state only: the engine prices and checks the order when it is placed) ----

    def _cart(self) -> dict[str, int]:
        return self.carts.setdefault(self.store_id or "", {})

    def _item(self, item_id: str) -> dict[str, Any] | None:
        return next((i for i in self.menus.get(self.store_id or "", []) if i["id"] == item_id), None)

    def _cart_lines(self) -> list[tuple[dict[str, Any], int]]:
        return [(item, qty) for item_id, qty in self._cart().items() if (item := self._item(item_id)) is not None]

    def _cart_total(self) -> int:
        return sum(item["price"] * qty for item, qty in self._cart_lines())

    def _show_cart(self) -> None:
        table = self.query_one("#cart", ConsoleTable)
        currency = self.console.settings.currency
        lines = self._cart_lines()
        table.show([
            (item["id"], (str(qty), clip(item["name"], 16), Text(money(item["price"] * qty, currency), justify="right")))
            for item, qty in lines
        ])
        count = sum(qty for _, qty in lines)
        total = f"Total {money(self._cart_total(), currency)}"
        text = f"{total}\n{count} item{'s' if count != 1 else ''}" if lines else "Cart is empty:\n+ adds the menu item"
        self.query_one("#total", Static).update(text + ("\np places the order" if lines else ""))
        # Narrower than designed, the total pane is hidden (see customer.tcss): the cart says it.
        table.border_subtitle = f"{total} · p orders" if lines and self.app.size.width < NARROW else ""

    def on_resize(self, event: events.Resize) -> None:
        self._show_cart()

    def _focused_item(self) -> str | None:
        focused = self.focused
        if isinstance(focused, ConsoleTable) and focused.id in ("menu", "cart"):
            return focused.highlighted_key()
        return self.query_one("#menu", ConsoleTable).highlighted_key()

    def action_add_item(self) -> None:
        item_id = self._focused_item()
        if item_id is None:
            return
        item = self._item(item_id)
        if item is not None and not item.get("available", True):
            self.notify(f"{item['name']} is sold out right now.", title="Sold out", severity="warning")
            return
        cart = self._cart()
        cart[item_id] = cart.get(item_id, 0) + 1
        self._show_cart()

    def action_remove_item(self) -> None:
        item_id = self._focused_item()
        cart = self._cart()
        if item_id not in cart:
            return
        cart[item_id] -= 1
        if cart[item_id] <= 0:
            del cart[item_id]
        self._show_cart()

    @on(DataTable.RowSelected, "#menu")
    def _menu_selected(self, event: DataTable.RowSelected) -> None:
        self.action_add_item()

    def action_clear_cart(self) -> None:
        if not self._cart():
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._cart().clear()
                self._show_cart()

        self.app.push_screen(ConfirmDialog("Clear the cart?", "Every item in this store's cart is removed.", yes="Clear"), answered)

    # -- placing the order ----------------------------------------------------------------------

    def action_checkout(self) -> None:
        lines = self._cart_lines()
        if not lines or self.store_id is None:
            self.notify("The cart is empty: add items with + first.", title="Nothing to order")
            return
        currency = self.console.settings.currency
        store = self.console.person("store", self.store_id)
        text_lines = [f"{qty} × {item['name']}  {money(item['price'] * qty, currency)}" for item, qty in lines]
        total = money(self._cart_total(), currency)
        store_id, items = self.store_id, [f"{item['id']}:{qty}" for item, qty in lines]

        def checked_out(answer: dict[str, Any] | None) -> None:
            if answer is None:
                return
            card = answer["card"]
            card_text = f"the card ending {card[-4:]}" if card else "the default test card"

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self.notify(f"Paying {total} …", title="Payment", timeout=3)
                    customer = self.customer["id"]
                    self.act(
                        lambda engine: jsonable(engine.orders.place(customer, store_id, items, answer["address"], card)),
                        lambda order: self._placed(order, store_id, answer["address"]),
                        self._payment_failed,
                    )

            self.app.push_screen(
                ConfirmDialog(
                    f"Pay {total} to {store['name']}?",
                    "\n".join(text_lines) + f"\nTotal {total}\nDeliver to {answer['address']}\nPay with {card_text}",
                    yes=f"Pay {total}",
                    no="Back",
                ),
                confirmed,
            )

        address = self.console.preferences.addresses.get(self.customer["id"]) or self.customer.get("address", "")
        self.app.push_screen(CheckoutScreen(store["name"], text_lines, total, address), checked_out)

    def _placed(self, order: dict[str, Any], store_id: str, address: str) -> None:
        self.carts.pop(store_id, None)
        self._show_cart()
        self.console.save_preferences(addresses={**self.console.preferences.addresses, self.customer["id"]: address.strip()})
        self.placed = order["id"]
        self.page = 0  # the newest page, where the new order is
        self.action_tab("orders")
        self.reload()
        self.app.push_screen(
            MessageDialog(
                "Payment approved",
                f"Order {order['id']} is {status_text(order['status'])}: {money(order['total'], order['currency'])} was charged "
                f"and the order was sent to the store. Follow it on the My orders tab.",
            )
        )

    def _payment_failed(self, error: BaseException) -> None:
        from ..engine.errors import PaymentFailed

        if not isinstance(error, PaymentFailed):
            self.console.show_error(error)
            return
        title = "Payment service unavailable" if error.unavailable else "Payment declined"
        self.app.push_screen(MessageDialog(title, f"{error.message}\n\nYour cart is kept: try again or use another card.", error=True))
        self.reload()

    # -- my orders ----------------------------------------------------------------------------

    def _selected_order(self) -> str | None:
        return self.query_one("#order-table", ConsoleTable).highlighted_key()

    @on(DataTable.RowSelected, "#order-table")
    def _order_selected(self, event: DataTable.RowSelected) -> None:
        self.console.open_order(str(event.row_key.value))

    @on(DataTable.RowSelected, "#note-table")
    def _note_selected(self, event: DataTable.RowSelected) -> None:
        table = self.query_one("#note-table", ConsoleTable)
        self.console.open_order(str(table.get_row(event.row_key)[1]))

    def action_cancel_order(self) -> None:
        order_id = self._selected_order()
        if order_id:
            self.cancel(order_id)

    def action_confirm_delivery(self) -> None:
        order_id = self._selected_order()
        if order_id:
            self.confirm(order_id)

    def action_page(self, step: int) -> None:
        if step > 0 and not self._more:
            return
        self.page = min(max(0, self.page + step), len(self.cursors) - 1)
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if allowed and action == "page":  # only when there is a page to go to
            step = parameters[0] if parameters else 1
            return not ((step > 0 and not self._more) or (step < 0 and self.page == 0))
        return allowed
