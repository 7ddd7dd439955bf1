"""Checkout: the cart's lines and total, the delivery address and the card; answers with the
address and card to pay with (the caller asks for confirmation, then places the order)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

TEST_CARDS = "Test cards: 4242424242424242 approves (default) · 4000000000000002 is declined · 4000000000000119 fails"


class CheckoutScreen(ModalScreen[dict[str, Any] | None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "cancel", "Back")]

    def __init__(self, store_name: str, lines: list[str], total: str, address: str) -> None:
        super().__init__()
        self.store_name, self.lines, self.total, self.address = store_name, lines, total, address

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="checkout"):
            yield Static(f"Order from {self.store_name}", classes="title", markup=False)
            yield Static("\n".join(self.lines) + f"\nTotal {self.total}", classes="body", markup=False, id="checkout-lines")
            yield Static("Deliver to", markup=False)
            yield Input(self.address, placeholder="delivery address", id="address", compact=True)
            yield Static("Card number (empty: the default test card)", markup=False)
            yield Input(placeholder="4242424242424242", id="card", compact=True)
            yield Static(TEST_CARDS, classes="body", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Back (esc)", id="back")
                yield Button("Place order (enter)", id="place", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#address", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "address":
            self.query_one("#card", Input).focus()
        else:
            self._place()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "place":
            self._place()
        else:
            self.dismiss(None)

    def _place(self) -> None:
        card = self.query_one("#card", Input).value.replace(" ", "")
        self.dismiss({"address": self.query_one("#address", Input).value, "card": card or None})

    def action_cancel(self) -> None:
        self.dismiss(None)
