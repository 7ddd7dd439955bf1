"""Pick a menu item to mark sold out or available again (the store owner's menu)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


def item_label(item: dict[str, Any]) -> str:
    return f"{'✘ sold out ' if not item['available'] else '✔ available'}  {item['name']} ({item['id']})"


class MenuDialog(ModalScreen[str | None]):
    """The store's menu; enter gives back the highlighted item's id (its availability is switched)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "cancel", "Back")]

    def __init__(self, store_name: str, items: list[dict[str, Any]]) -> None:
        super().__init__()
        self.store_name, self.items = store_name, items

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"{self.store_name}: sold out or available?", classes="title", markup=False)
            yield Static("enter switches the highlighted item; customers see it at once, and ordering a sold-out item is refused. esc: back", classes="body", markup=False)
            yield OptionList(*[Option(item_label(item), id=item["id"]) for item in self.items], id="menu-items")

    def on_mount(self) -> None:
        options = self.query_one("#menu-items", OptionList)
        if options.option_count:
            options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
