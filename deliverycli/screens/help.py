"""Every key binding of the screen it was opened from (`?`), including the ones the footer hides."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.rows: list[tuple[str, str, str]] = []
        seen: set[tuple[str, str]] = set()
        for key, active in under.active_bindings.items():
            binding = active.binding
            if binding.system or not binding.description:
                continue
            generic = active.node is under.app or binding.action.startswith("app.") or "copy" in binding.action
            where = "everywhere" if generic else ("this view" if active.node is under else type(active.node).__name__)
            display = under.app.get_key_display(binding)
            if (display, binding.description) in seen:
                continue
            seen.add((display, binding.description))
            self.rows.append((display, binding.description + ("" if active.enabled else " (not now)"), where))
        for bindings in under._bindings.key_to_bindings.values():  # this view's keys that do nothing just now
            for binding in bindings:
                display = under.app.get_key_display(binding)
                if binding.description and (display, binding.description) not in seen:
                    seen.add((display, binding.description))
                    self.rows.append((display, binding.description + " (not here)", "this view"))
        if not any(r[0] == "^p" or r[0] == "ctrl+p" for r in self.rows):
            self.rows.append(("^p", "Command palette: switch role, jump to an order, open a view", "everywhere"))
        order = {"this view": 0, "everywhere": 2}
        self.rows.sort(key=lambda r: order.get(r[2], 1))
        self.title_text = f"Keys · {getattr(under, 'view_name', type(under).__name__)}"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="title", markup=False)
            yield DataTable(cursor_type="row", zebra_stripes=True)
            yield Static("esc closes", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Key", "Does", "Where")
        for row in self.rows:
            table.add_row(*row)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
