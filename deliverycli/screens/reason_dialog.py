"""Ask for a reason before a destructive action (a store rejecting an order)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ReasonDialog(ModalScreen[str | None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "cancel", "Back")]

    def __init__(self, title: str, body: str, action: str, placeholder: str = "reason") -> None:
        super().__init__()
        self.title_text, self.body, self.action_label, self.placeholder = title, body, action, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="title", markup=False)
            yield Static(self.body, classes="body", markup=False)
            yield Input(placeholder=self.placeholder, id="reason")
            with Horizontal(classes="buttons"):
                yield Button("Back (esc)", id="back")
                yield Button(f"{self.action_label} (enter)", id="go", variant="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.query_one("#reason", Input).value if event.button.id == "go" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
