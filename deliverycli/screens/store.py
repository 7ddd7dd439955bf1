"""The store owner's view: the store's kitchen tickets as New / Cooking / Ready / Cancelled; accept,
reject (with a reason) and mark ready. New and cancelled orders are announced and marked."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from ..output import jsonable
from ..widgets.format import clip, items_text, money, status_text
from .actions import StoreActions
from .base import TabbedScreen

# (tab id, label, ticket statuses shown); each tab is one indexed query of at most LIMIT rows.
TABS = (("new", "New", ("NEW",)), ("cooking", "Cooking", ("COOKING",)), ("ready", "Ready", ("READY",)), ("cancelled", "Cancelled", ("CANCELLED", "REJECTED")))
LIMIT = 100
FRESH_S = 60.0  # how long a newly arrived or cancelled order stays marked
FRESH_MARK = "●"


class StoreScreen(StoreActions, TabbedScreen):
    CSS_PATH = "store.tcss"
    view_name = "Store owner"
    FIRST_TAB = "new"
    TAB_FOCUS = {tab: f"#{tab}-table" for tab in ("new", "cooking", "ready", "cancelled")}
    TAB_ACTIONS = {"accept": "new", "reject": "new", "ready": "cooking"}
    BINDINGS = [
        Binding("1", "tab('new')", "New", show=False),
        Binding("2", "tab('cooking')", "Cooking", show=False),
        Binding("3", "tab('ready')", "Ready", show=False),
        Binding("4", "tab('cancelled')", "Cancelled", show=False),
        Binding("a", "accept", "Accept"),
        Binding("x", "reject", "Reject"),
        Binding("r", "ready", "Ready"),
    ]

    def __init__(self, store: dict[str, Any]) -> None:
        super().__init__()
        self.store = store
        self.known: dict[str, set[str]] | None = None  # ids per tab at the previous load
        self.fresh: dict[str, float] = {}  # order id -> when it was marked

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="store-info", markup=False)
        with TabbedContent(initial="new", id="tabs"):
            for number, (tab, label, _) in enumerate(TABS, start=1):
                with TabPane(f"{number} {label}", id=tab):
                    yield DataTable(id=f"{tab}-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        for tab, _, _ in TABS:
            self.query_one(f"#{tab}-table", DataTable).add_columns(" ", "Order", "Status", "Total", "Received", "Items")
        self.query_one("#new-table", DataTable).focus()
        self.query_one("#store-info", Static).update(f"{self.store['name']} · {self.store.get('address', '')} · enter: order details")
        super().on_mount()

    def reload(self) -> None:
        store_id = self.store["id"]

        def read(engine: Any) -> dict[str, Any]:
            tickets = {tab: [t for status in statuses for t in jsonable(engine.store.queue(store_id, status, LIMIT))] for tab, _, statuses in TABS}
            tickets["cancelled"].sort(key=lambda t: (t["received_at"], t["id"]), reverse=True)
            return {"counts": engine.store.counts(store_id), "tickets": tickets}

        self.load("queue", read, self.show_queue)

    def show_queue(self, loaded: dict[str, Any]) -> None:
        counts, tickets = loaded["counts"], loaded["tickets"]
        now = time.monotonic()
        ids = {tab: {t["id"] for t in rows} for tab, rows in tickets.items()}
        if self.known is not None:  # not on the first load: everything would look new
            for tab in ("new", "cancelled"):
                for order_id in ids[tab] - self.known[tab]:
                    self.fresh[order_id] = now
        self.known = ids
        self.fresh = {k: v for k, v in self.fresh.items() if now - v < FRESH_S}
        tabs = self.query_one("#tabs", TabbedContent)
        for number, (tab, label, statuses) in enumerate(TABS, start=1):
            total = sum(counts.get(s, 0) for s in statuses)
            marked = sum(1 for t in tickets[tab] if t["id"] in self.fresh)
            text = f"{number} {label} ({total}){' ' + FRESH_MARK if marked else ''}"
            if str(tabs.get_tab(tab).label) != text:
                tabs.get_tab(tab).label = text
            self._fill(self.query_one(f"#{tab}-table", DataTable), tickets[tab], total)

    def _fill(self, table: DataTable, rows: list[dict[str, Any]], total: int) -> None:
        currency = self.console.settings.currency

        def cells(t: dict[str, Any]) -> tuple[Any, ...]:
            style = "bold reverse" if t["id"] in self.fresh else ""
            return (
                Text(FRESH_MARK if style else " ", style=style), Text(t["id"], style=style), status_text(t["status"]),
                Text(money(t["total"], currency), justify="right"), self.time(t["received_at"]),
                clip(items_text(t["items"]) + (f" · {t['reason']}" if t.get("reason") else ""), 60),
            )

        self.fill(table, [(t["id"], cells(t)) for t in rows])
        table.border_subtitle = f"newest {len(rows)} of {total}" if total > len(rows) else ""

    def _current(self) -> tuple[str, str | None]:
        tab = self.active_tab()
        return tab, self._highlighted_key(self.query_one(f"#{tab}-table", DataTable))

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

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.fresh.pop(str(event.row_key.value), None)
        self.console.open_order(str(event.row_key.value))

