"""Ask for a reason before a destructive action (a store rejecting an order), or for one short
answer (a preparation time). What is refused (an empty reason, a number out of range) is said inside
the dialog, which stays open; the engine still checks what it accepts."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

MAX_REASON = 500  # what the engine stores
EMPTY_REASON = "Say why: the customer is told this reason."


class ReasonDialog(ModalScreen[str | None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "cancel", "Back")]

    def __init__(
        self, title: str, body: str, action: str, placeholder: str = "reason", *, value: str = "", required: bool = True,
        check: Callable[[str], str | None] | None = None, variant: str = "error",
    ) -> None:
        """``check`` says what is wrong with an answer (None: nothing); without ``required`` an
        empty answer is given back as ""."""
        super().__init__()
        self.title_text, self.body, self.action_label, self.placeholder = title, body, action, placeholder
        self.value, self.required, self.check, self.variant = value, required, check, variant

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="title", markup=False)
            yield Static(self.body, classes="body", markup=False)
            yield Input(self.value, placeholder=self.placeholder, id="reason", max_length=MAX_REASON)
            yield Static("", id="reason-problem", classes="problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Back (esc)", id="back")
                yield Button(f"{self.action_label} (enter)", id="go", variant=self.variant)  # type: ignore[arg-type]

    def on_mount(self) -> None:
        self.query_one("#reason-problem", Static).display = False
        self.query_one("#reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "go":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        field = self.query_one("#reason", Input)
        answer = field.value.strip()
        wrong = (EMPTY_REASON if self.required and not answer else None) or (self.check(answer) if self.check and answer else None)
        if wrong is None:
            self.dismiss(answer)
            return
        problem = self.query_one("#reason-problem", Static)
        problem.update(wrong)
        problem.display = True
        field.add_class("-invalid")
        field.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
