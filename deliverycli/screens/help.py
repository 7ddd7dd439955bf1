"""The keys of the view it was opened from (`?`): what works here and everywhere, including keys
the footer hides, and a tab's keys said to work on that tab. Other views' keys are not listed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..widgets.table import ConsoleTable
from .base import ConsoleScreen

PALETTE_ROW = ("^p", "Command palette: switch role, jump to an order, open a view, preferences", "everywhere")


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        if isinstance(under, ConsoleScreen):
            rows = under.key_rows()
        else:
            rows = [
                (under.app.get_key_display(a.binding), a.binding.description, "this view")
                for a in under.active_bindings.values()
                if a.binding.description and not a.binding.system
            ]
        if not any(row[0] in ("^p", "ctrl+p") for row in rows):
            rows.append(PALETTE_ROW)
        order = {"this view": 0, "this table": 1, "everywhere": 2}
        self.rows = sorted(rows, key=lambda r: order.get(r[2], 1))
        self.title_text = f"Keys · {getattr(under, 'view_name', type(under).__name__)}"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="title", markup=False)
            yield ConsoleTable("Key", "Does", "Where", zebra_stripes=True)
            yield Static("esc closes", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(ConsoleTable)
        table.show([(str(i), row) for i, row in enumerate(self.rows)])
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
