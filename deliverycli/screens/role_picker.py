"""The role picker: every role and the ids in the database; enter opens that person's view. The
last role used is highlighted (remembered in the preferences), so enter takes you back."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist

from ..widgets.footer import ConsoleFooter
from .base import ConsoleScreen

ROLE_TITLES = {"customer": "Customers", "store": "Store owners", "rider": "Riders"}
# Enough to pick from; anyone else is one `deliverycli tui --role R --as ID` (or Ctrl+P) away.
MAX_PER_ROLE = 200


class RolePickerScreen(ConsoleScreen):
    CSS_PATH = "role_picker.tcss"
    BINDINGS = [Binding("enter", "open", "Open")]
    view_name = "Role picker"
    LIVE = False  # people are not added by events: reload when shown again

    def __init__(self, focus_role: str | None = None, focus_actor: str | None = None) -> None:
        super().__init__()
        self.focus_role, self.focus_actor = focus_role, focus_actor

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Who is using the console? Pick a role and press enter.", id="picker-intro", markup=False)
        yield OptionList(id="roles")
        yield ConsoleFooter()

    def reload(self) -> None:
        self.load("catalog", lambda engine: self.console.load_catalog(engine), self.show_catalog)

    def show_catalog(self, catalog: dict[str, list[dict[str, Any]]]) -> None:
        self.console.catalog = catalog
        roles = self.query_one("#roles", OptionList)
        highlighted = roles.highlighted_option.id if roles.highlighted_option else None
        options: list[Option | None] = []
        for role, title in ROLE_TITLES.items():
            people = catalog[role]
            options.append(Option(f"{title} ({len(people)})", disabled=True))
            for person in people[:MAX_PER_ROLE]:
                options.append(Option(f"  {person['id']:<16} {person['name']}", id=f"{role}:{person['id']}"))
            if len(people) > MAX_PER_ROLE:
                options.append(Option(f"  … {len(people) - MAX_PER_ROLE} more: use Ctrl+P or --as ID", disabled=True))
            if not people:
                options.append(Option("  none yet (deliverycli init --demo adds some)", disabled=True))
        options.append(Option("Operator", disabled=True))
        options.append(Option("  Operations: orders, throughput, lag, dead letters, breaker", id="ops:"))
        options.append(Option("  Live feed: every event as it commits", id="feed:"))
        roles.set_options(options)
        last = f"{self.focus_role}:{self.focus_actor}" if self.focus_actor else None
        for target in filter(None, (highlighted, last, self._first_of(self.focus_role))):
            try:
                roles.highlighted = roles.get_option_index(target)
                break
            except OptionDoesNotExist:  # gone from the database: the next best
                continue
        roles.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action != "back"  # nothing to go back to: ctrl+q quits

    def _first_of(self, role: str | None) -> str | None:
        if role in ("ops", "feed"):
            return f"{role}:"
        people = self.console.catalog.get(role or "customer") or []
        return f"{role or 'customer'}:{people[0]['id']}" if people else None

    @on(OptionList.OptionSelected, "#roles")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._open(event.option.id)

    def action_open(self) -> None:
        roles = self.query_one("#roles", OptionList)
        if roles.highlighted_option is not None:
            self._open(roles.highlighted_option.id)

    def _open(self, option_id: str | None) -> None:
        if not option_id:
            return
        role, _, actor = option_id.partition(":")
        self.console.open_role(role, actor or None)
