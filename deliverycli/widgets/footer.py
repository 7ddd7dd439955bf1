"""The footer: Textual's, with shorter labels and less padding when the terminal is narrow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from .table import NARROW  # the designed width; below it the footer shortens its labels

if TYPE_CHECKING:
    from textual.screen import Screen


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

    _composed: tuple[Any, ...] | None = None  # what the keys were composed from (see _keys_shown)

    def _keys_shown(self) -> tuple[Any, ...]:
        """Everything ``compose`` draws the keys from."""
        palette = self.app.COMMAND_PALETTE_BINDING
        bindings = tuple(
            (key, b.action, b.description, b.group, enabled, tooltip)
            for key, (_, b, enabled, tooltip) in self.screen.active_bindings.items() if b.show or key == palette
        )
        return self.narrow, self.compact, self.show_command_palette, bindings

    def bindings_changed(self, screen: Screen) -> None:
        # Textual recomposes on every bindings signal (focus moves, a screen comes back: three or
        # four per push and pop); the same keys again are not drawn again.
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if self.is_attached and self._keys_shown() != self._composed:
            await self.recompose()

    def compose(self) -> ComposeResult:
        self._composed = self._keys_shown() if self._bindings_ready else None
        for widget in super().compose():
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                # Born with the footer's compactness: a key defaults to compact and is bound to the
                # footer's only once mounted, so each key re-styled itself twice (half a push's time).
                # (Textual leaves the palette's key unbound, always compact.)
                widget.set_reactive(FooterKey.compact, self.compact)
                widget.set_class(self.compact, "-compact", update=False)
            description = getattr(widget, "description", None)  # a key of the footer
            if self.narrow and isinstance(description, str) and description in SHORT_LABELS:
                widget.description = SHORT_LABELS[description]  # type: ignore[attr-defined]
            yield widget
