"""The footer: Textual's, with shorter labels and less padding when the terminal is narrow."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import Footer

from .table import NARROW  # the designed width; below it the footer shortens its labels


SHORT_LABELS = {
    "Place order": "Order",
    "Cancel order": "Cancel",
    "Confirm delivery": "Confirm",
    "Remove": "Del",
    "Next page": "Next",
    "Previous page": "Prev",
    "Retry dead letter": "Retry",
    "Stuck after": "Stuck",
    "Pause/follow": "Pause",
    "Switch role": "Role",
    "Complete": "Done",
}


class ConsoleFooter(Footer):
    """Below ``NARROW`` columns: compact, short labels, and no command-palette hint (Ctrl+P still works)."""

    narrow = reactive(False, recompose=True)

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW
        if narrow != self.narrow:
            self.compact = narrow
            self.show_command_palette = not narrow
            self.narrow = narrow

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            description = getattr(widget, "description", None)  # a key of the footer
            if self.narrow and isinstance(description, str) and description in SHORT_LABELS:
                widget.description = SHORT_LABELS[description]  # type: ignore[attr-defined]
            yield widget
