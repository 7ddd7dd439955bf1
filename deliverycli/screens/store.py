"""The store owner's view: the store's kitchen tickets as New / Cooking / Ready (waiting for a rider)
/ Done (handed to a rider today) / Cancelled; accept (asking the preparation time), reject (with a
reason) and mark ready; pause taking orders and mark menu items sold out. New and cancelled orders
are announced and marked.

The queue is read whole when the view opens; after that only the tabs that the store's own new
events touch are read again (a `store_id` feed since the last look), so another store's orders, or
coming back from an order's detail with nothing new, cost one small query."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from ..output import jsonable
from ..widgets.format import age, clip, hour_minute, items_text, money, page_text, status_text
from ..widgets.footer import ConsoleFooter
from ..widgets.table import Column, ConsoleTable
from .actions import StoreActions
from .base import TabbedScreen

# (tab id, label, ticket statuses shown, what an empty tab says); each tab is one indexed query of at most LIMIT rows.
TABS = (
    ("new", "New", ("NEW",), "No new orders: a paid order shows here at once, marked ●."),
    ("cooking", "Cooking", ("COOKING",), "Nothing cooking: accept a new order with a on the New tab."),
    ("ready", "Ready", ("READY",), "Nothing waiting for a rider: mark a cooked order ready with r."),
    ("done", "Done", ("PICKED_UP", "DONE"), "Nothing handed to a rider today: a ready order moves here when a rider picks it up."),
    ("cancelled", "Cancelled", ("CANCELLED", "REJECTED"), "No cancelled or rejected orders."),
)
ALL_TABS = frozenset(tab for tab, *_ in TABS)
# The tab a store event puts its ticket in ("": the ticket does not change); an event of the store
# context not listed here reloads every tab.
TAB_OF_EVENT = {
    "StoreOrderReceived": "new", "CookingStarted": "cooking", "CookingFinished": "ready",
    "StoreOrderCancelled": "cancelled", "StoreOrderRejected": "cancelled", "CancellationRefused": "",
}
# Events of the delivery context that move the store's ticket (a rider took it, delivered it).
TAB_OF_DELIVERY_EVENT = {"DeliveryPickedUp": "done", "DeliveryCompleted": "done"}
LIMIT = 100
CHANGES = 200  # store events read per look; more than that: read every tab again
FRESH_S = 60.0  # how long a newly arrived or cancelled order stays marked
FRESH_MARK = "●"
NARROW = 70  # columns: below this the tab labels drop their key's number, so all five fit


def touched_tabs(events: list[Any], known: dict[str, set[str]]) -> set[str]:
    """The tabs that ``events`` (the store's, oldest first) may have changed: where each ticket was
    and where its event puts it."""
    tabs: set[str] = set()
    for event in events:
        if event.event_type in TAB_OF_DELIVERY_EVENT:
            tabs.add(TAB_OF_DELIVERY_EVENT[event.event_type])
        elif event.context != "store":
            continue
        elif event.event_type not in TAB_OF_EVENT:
            return set(ALL_TABS)
        else:
            tabs |= {TAB_OF_EVENT[event.event_type]} - {""}
        tabs |= {tab for tab, ids in known.items() if event.order_id in ids}
    return tabs


class StoreScreen(StoreActions, TabbedScreen):
    CSS_PATH = "store.tcss"
    view_name = "Store owner"
    FIRST_TAB = "new"
    TAB_FOCUS = {tab: f"#{tab}-table" for tab in ALL_TABS}
    TAB_ACTIONS = {"accept": "new", "reject": "new", "ready": "cooking"}
    BINDINGS = [
        Binding("1", "tab('new')", "New", show=False),
        Binding("2", "tab('cooking')", "Cooking", show=False),
        Binding("3", "tab('ready')", "Ready", show=False),
        Binding("4", "tab('done')", "Done", show=False),
        Binding("5", "tab('cancelled')", "Cancelled", show=False),
        Binding("a", "accept", "Accept"),
        Binding("x", "reject", "Reject"),
        Binding("r", "ready", "Ready"),
        Binding("p", "pause", "Pause"),
        Binding("m", "menu", "Sold out / available", show=False),
    ]

    def __init__(self, store: dict[str, Any]) -> None:
        super().__init__()
        self.store = store
        self.known: dict[str, set[str]] = {}  # ids per tab at the last load of that tab
        self.fresh: dict[str, float] = {}  # order id -> when it was marked
        self.seen_head: int | None = None  # the event log's head when the queue was last read
        self.stale: set[str] = set()  # tabs to read again (a read asked for while one runs reads them all)
        self.loads = 0  # tab reads so far (tests count them)
        self.counts: dict[str, int] = {}  # tickets per status, as last read

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="store-info", markup=False)
        with TabbedContent(initial="new", id="tabs"):
            for number, (tab, label, _, empty) in enumerate(TABS, start=1):
                with TabPane(f"{number} {label}", id=tab):
                    yield ConsoleTable(" ", "Order", "Status", "Total", Column("Received", "received", secondary=True), "Items", id=f"{tab}-table", name=f"{label.lower()} orders", zebra_stripes=True, order_column=None, empty=empty)
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#new-table", ConsoleTable).focus()
        self.show_store(self.store)

    def show_store(self, store: dict[str, Any]) -> None:
        """The store's line: its name, and whether it takes orders."""
        self.store = store
        if store.get("paused"):
            state = "⏸ PAUSED, no new orders" + (f" ({store['pause_reason']})" if store.get("pause_reason") else "") + " · p resumes"
        else:
            state = f"{store.get('address', '')} · enter: order details"
        self.query_one("#store-info", Static).update(f"{store['name']} · {state}")

    # -- reading: everything once, then what changed --------------------------------------------

    def reload(self) -> None:
        if self.seen_head is None:
            self.read_tabs(ALL_TABS)
        else:
            self.read_changes()

    def resumed(self) -> None:
        if self.seen_head is not None:  # not when first shown: the first read is under way
            self.read_changes()  # back from a dialog or an order's detail: only what changed meanwhile

    def read_tabs(self, tabs: frozenset[str] | set[str]) -> None:
        self.stale |= tabs
        store_id, tabs = self.store["id"], frozenset(self.stale)

        today = self.today()

        def read(engine: Any) -> dict[str, Any]:
            head = engine.events.head()  # first: what commits while we read is looked at next time
            tickets = {
                tab: [t for status in statuses for t in jsonable(engine.store.queue(store_id, status, LIMIT, since=today))]
                for tab, _, statuses, _ in TABS if tab in tabs
            }
            for tab in ("done", "cancelled"):
                if tab in tickets:
                    tickets[tab].sort(key=lambda t: (t["updated_at" if tab == "done" else "received_at"], t["id"]), reverse=True)
            return {"head": head, "counts": engine.store.counts(store_id, since=today), "tickets": tickets}

        self.load("queue", read, self.show_queue)

    def today(self) -> datetime:
        """The start of today (local time, by the console's clock): the Done tab holds what was handed over since."""
        return self.console.clock().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)

    def read_changes(self) -> None:
        store_id, after = self.store["id"], self.seen_head
        self.load("changes", lambda engine: (engine.events.head(), engine.events.feed(after, CHANGES, store_id=store_id)), self._changes_read)

    def _changes_read(self, loaded: tuple[int, list[Any]]) -> None:
        head, events = loaded
        tabs = set(ALL_TABS) if len(events) == CHANGES else touched_tabs(events, self.known)
        if tabs:
            self.read_tabs(tabs)  # its head becomes seen_head
        else:
            self.seen_head = max(head, self.seen_head or 0)

    def show_queue(self, loaded: dict[str, Any]) -> None:
        counts, tickets = loaded["counts"], loaded["tickets"]
        self.seen_head = loaded["head"]
        self.stale -= set(tickets)
        self.loads += len(tickets)
        now = time.monotonic()
        for tab, rows in tickets.items():
            ids = {t["id"] for t in rows}
            if tab in ("new", "cancelled") and tab in self.known:  # not on the first load: everything would look new
                for order_id in ids - self.known[tab]:
                    self.fresh[order_id] = now
            self.known[tab] = ids
        self.fresh = {k: v for k, v in self.fresh.items() if now - v < FRESH_S}
        self.counts = counts
        self._label_tabs()
        for tab, _, statuses, _ in TABS:
            if tab in tickets:
                self._fill(self.query_one(f"#{tab}-table", ConsoleTable), tickets[tab], sum(counts.get(s, 0) for s in statuses))

    def _label_tabs(self) -> None:
        """Each tab's label and count ("2 Cooking (3)"); narrower than designed, without the key's number."""
        labels = {}
        numbered = self.app.size.width >= NARROW
        for number, (tab, label, statuses, _) in enumerate(TABS, start=1):
            total = sum(self.counts.get(s, 0) for s in statuses)
            marked = any(order_id in self.fresh for order_id in self.known.get(tab, ()))
            labels[tab] = f"{f'{number} ' if numbered else ''}{label} ({total:,}){' ' + FRESH_MARK if marked else ''}"
        self.relabel_tabs(labels)

    def on_resize(self, event: Any) -> None:
        if self.counts:
            self._label_tabs()

    def _fill(self, table: ConsoleTable, rows: list[dict[str, Any]], total: int) -> None:
        currency = self.console.settings.currency

        now = self.console.clock()

        def cells(t: dict[str, Any]) -> tuple[Any, ...]:
            style = "bold reverse" if t["id"] in self.fresh else ""
            status = status_text(t["status"])
            if t.get("accept_by"):  # the acceptance deadline: the system rejects it after this
                left = (datetime.fromisoformat(t["accept_by"]) - now).total_seconds()
                status += f" · {age(left)} left" if left > 0 else " · overdue"
            ready = f" · ready ~{hour_minute(t['ready_at'], self.console.mask_times)}" if t["status"] == "COOKING" and t.get("ready_at") else ""
            return (
                Text(FRESH_MARK if style else " ", style=style), Text(t["id"], style=style), status,
                Text(money(t["total"], currency), justify="right"), self.time(t["received_at"]),
                clip(items_text(t["items"]) + ready + (f" · {t['reason']}" if t.get("reason") else ""), 60),
            )

        table.show([(t["id"], cells(t)) for t in rows])
        table.border_subtitle = f"newest first · {page_text('Orders', 1, len(rows), total)}" if total > len(rows) else ""

    # -- commands -----------------------------------------------------------------------------

    def _current(self) -> tuple[str, str | None]:
        tab = self.active_tab()
        return tab, self.query_one(f"#{tab}-table", ConsoleTable).highlighted_key()

    def action_accept(self) -> None:
        _, order_id = self._current()
        if order_id:
            self.fresh.pop(order_id, None)
            self.accept(order_id)

    def action_reject(self) -> None:
        _, order_id = self._current()
        if order_id:
            self.fresh.pop(order_id, None)
            self.reject(order_id)

    def action_ready(self) -> None:
        _, order_id = self._current()
        if order_id:
            self.ready(order_id)

    def action_pause(self) -> None:
        self.pause_or_resume(self.store, self.show_store)

    def action_menu(self) -> None:
        self.switch_menu_item(self.store)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.fresh.pop(str(event.row_key.value), None)
        self.console.open_order(str(event.row_key.value))
