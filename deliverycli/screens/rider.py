"""The rider's view: deliveries waiting for a rider, and mine; pick up (the first rider wins, the
others are told who was faster) and complete. Below, what is being cooked and when it should be
ready: when to come to which store."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from ..output import jsonable
from ..widgets.footer import ConsoleFooter
from ..widgets.format import clip, hour_minute, status_text
from ..widgets.table import Column, ConsoleTable
from .actions import RiderActions

LIMIT = 100  # rows per table: one indexed query each


class RiderScreen(RiderActions):
    CSS_PATH = "rider.tcss"
    view_name = "Rider"
    BINDINGS = [
        Binding("p", "pick_up", "Pick up"),
        Binding("c", "complete", "Complete"),
    ]

    def __init__(self, rider: dict[str, Any]) -> None:
        super().__init__()
        self.rider = rider

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="rider-info", markup=False)
        columns = ("Order", "Status", Column("Store", "store", secondary=True), "Address", Column("Requested", "requested", secondary=True))
        yield ConsoleTable(*columns, id="available", zebra_stripes=True, order_column=None,
                           empty="No delivery is waiting: an order shows here when its store marks it ready.")
        yield ConsoleTable(*columns, id="mine", zebra_stripes=True, order_column=None,
                           empty="None yet: pick one up from the list above with p.")
        yield ConsoleTable("Order", "Store", "Ready around", id="upcoming", zebra_stripes=True, order_column=None,
                           empty="Nothing is being cooked: an order shows here, with when it should be ready, once a store accepts it.")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        for table_id, title in (("available", "Available deliveries"), ("mine", "My deliveries"), ("upcoming", "Coming up: when to come")):
            self.query_one(f"#{table_id}", ConsoleTable).border_title = title
        self.query_one("#rider-info", Static).update(
            f"{self.rider['name']} ({self.rider.get('vehicle', '')}) · tab switches table"
        )
        self.query_one("#available", ConsoleTable).focus()

    def reload(self) -> None:
        rider = self.rider["id"]
        self.load(
            "deliveries",
            lambda engine: (
                jsonable(engine.deliveries.list(available=True, limit=LIMIT)), jsonable(engine.deliveries.of_rider(rider, limit=LIMIT)),
                jsonable(engine.deliveries.upcoming(limit=LIMIT)),
            ),
            self.show_deliveries,
        )

    def show_deliveries(self, loaded: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]) -> None:
        available, mine, upcoming = loaded  # mine: the ones on the road first
        names = {s["id"]: s["name"] for s in self.console.catalog["store"]}
        table = self.query_one("#upcoming", ConsoleTable)
        table.show([(o["id"], (o["id"], clip(names.get(o["store_id"], o["store_id"]), 16), hour_minute(o.get("ready_at"), self.console.mask_times))) for o in upcoming])
        table.border_subtitle = f"{len(upcoming)}{'+' if len(upcoming) == LIMIT else ''}"
        for table_id, rows in (("available", available), ("mine", mine)):
            table = self.query_one(f"#{table_id}", ConsoleTable)
            names = {s["id"]: s["name"] for s in self.console.catalog["store"]}
            table.show([
                (d["id"], (Text(d["id"], style="bold" if d["status"] == "PICKED_UP" else ""), status_text(d["status"]),
                           clip(names.get(d["store_id"], d["store_id"]), 16), clip(d["address"], 28), self.time(d["requested_at"])))
                for d in rows
            ])
            table.border_subtitle = f"{len(rows)}{'+' if len(rows) == LIMIT else ''}"

    def action_pick_up(self) -> None:
        order_id = self.query_one("#available", ConsoleTable).highlighted_key()
        if order_id:
            self.pick_up(order_id)

    def action_complete(self) -> None:
        order_id = self.query_one("#mine", ConsoleTable).highlighted_key()
        if order_id:
            self.complete(order_id)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.console.open_order(str(event.row_key.value))
