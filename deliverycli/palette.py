"""The command palette (Ctrl+P): switch role, jump to an order, open the feed or the operations
view, and the console's preferences (reduced motion, reset)."""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from .screens.console import Console

ORDER_QUERY = re.compile(r"^\s*(?:(?:jump|go|order|open)\s+)*(?:ord-)?(\d{1,9})\s*$", re.IGNORECASE)


def order_id_from(text: str) -> str | None:
    """``12``, ``ord-12`` or ``ord-000012`` (optionally after "order" or "jump") name order ord-000012."""
    match = ORDER_QUERY.match(text)
    return f"ord-{int(match[1]):06d}" if match else None


class ConsoleCommands(Provider):
    """The console's own commands, beside Textual's (theme, keys, screenshot, quit)."""

    @property
    def console(self) -> Console:
        return self.app  # type: ignore[return-value]

    def _commands(self) -> list[tuple[str, object, str]]:
        app = self.console
        if app.engine is None:
            return []
        commands: list[tuple[str, object, str]] = [
            ("Open the live feed", partial(app.action_open_view, "feed"), "every event as it commits (F2)" if app.is_operator else "your orders' events as they commit (F2)"),
        ]
        if app.is_operator:
            commands.append(("Open the operations view", partial(app.action_open_view, "ops"), "orders by status, throughput, lag, dead letters (F3)"))
        commands += [
            ("Switch role: pick from the list", app.action_pick_role, "the role picker (F4)"),
            ("Switch role: operations", partial(app.open_role, "ops", None), "the operations view as the main view"),
        ]
        motion = "on: animations at Textual's level again" if app.preferences.reduced_motion else "off: tabs and views switch at once"
        commands.append(("Preferences: reduced motion", app.toggle_reduced_motion, f"turn animations {motion} (remembered)"))
        commands.append(("Preferences: reset", app.reset_preferences, "forget the theme, motion, last role and addresses"))
        titles = {"customer": "customer", "store": "store owner", "rider": "rider"}
        for role, people in app.catalog.items():
            for person in people[:200]:
                commands.append((f"Switch role: {titles[role]} {person['id']}", partial(app.open_role, role, person["id"]), person["name"]))
        return commands

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands()[:8]:
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        app = self.console
        order_id = order_id_from(query)
        if order_id and app.engine is not None:
            yield Hit(1.0, f"Jump to order {order_id}", partial(app.open_order, order_id), help="its detail and timeline")
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
