"""The live feed's log: a RichLog that says when the reader scrolls up, so following can pause."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import RichLog


class FeedLog(RichLog):
    """Scrolling up (keys or wheel) posts ``ScrolledUp``, so the feed stops following; `end`
    posts ``ScrolledToEnd``, so it follows again."""

    class ScrolledUp(Message):
        """The reader scrolled up, away from the newest event."""

    class ScrolledToEnd(Message):
        """The reader jumped to the newest event."""

    def action_scroll_end(self) -> None:
        self.post_message(self.ScrolledToEnd())
        super().action_scroll_end()

    def _scrolled_up(self) -> None:
        if self.max_scroll_y > 0:
            self.post_message(self.ScrolledUp())

    def action_scroll_up(self) -> None:
        self._scrolled_up()
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self._scrolled_up()
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self._scrolled_up()
        super().action_scroll_home()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._scrolled_up()
        super()._on_mouse_scroll_up(event)
