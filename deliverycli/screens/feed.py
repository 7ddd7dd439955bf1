"""The live feed: every event as it commits, from any process: time, order, type and actor.

An operator sees every order's events; a customer, store owner or rider only their own orders'.
`/` filters by order id, event type or context (a filter it cannot read is refused, with how
filters work); space pauses and follows; scrolling up pauses following, so what you are reading
stays put.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Input, Static

from ..engine.events import EVENT_TYPES
from ..widgets.feed_log import FeedLog
from ..widgets.footer import ConsoleFooter
from .base import ConsoleScreen

BACKLOG = 200  # events shown when the feed opens or its filter changes
BATCH = 500  # events read per poll while following
MAX_LINES = 1000  # the log keeps this many lines; older ones scroll away
CONTEXTS = ("ordering", "payment", "store", "delivery", "notification")
CONTEXT_STYLES = {"ordering": "cyan", "payment": "magenta", "store": "yellow", "delivery": "green", "notification": "blue"}
SCOPES = {"customer": "customer_id", "store": "store_id", "rider": "rider_id"}
FILTER_HELP = (
    "Filter by an order (12 or ord-000012), an event type (CookingStarted) or a context "
    f"({', '.join(CONTEXTS)}); type:, context: or order: say which. Empty shows every event."
)


class UnknownFilter(ValueError):
    """The filter text names no order, event type or context."""


def parse_filter(text: str) -> dict[str, str]:
    """``type:X``, ``context:X``, ``order:X``, or a bare word: an event type or context name (any
    case) or an order id (``12`` means ``ord-000012``). Anything else raises UnknownFilter."""
    text = text.strip()
    if not text:
        return {}
    kind, sep, value = text.partition(":")
    if sep and kind.lower() in ("type", "context", "order") and value.strip():
        kind, text = kind.lower(), value.strip()
    else:
        kind = ""
    types = {name.lower(): name for name in EVENT_TYPES}
    if kind in ("", "type") and text.lower() in types:
        return {"event_type": types[text.lower()]}
    if kind in ("", "context") and text.lower() in CONTEXTS:
        return {"context": text.lower()}
    if kind in ("", "order") and text.isdigit():
        return {"order_id": f"ord-{int(text):06d}"}
    if kind == "order" or (kind == "" and text.lower().startswith("ord-")):
        return {"order_id": text}
    what = {"type": "no event type", "context": "no context"}.get(kind, "neither an order, an event type nor a context")
    raise UnknownFilter(f"“{text}” is {what}. {FILTER_HELP}")


def describe_filter(criteria: dict[str, str]) -> str:
    if not criteria:
        return "all events"
    (key, value), = criteria.items()
    return {"event_type": "type", "context": "context", "order_id": "order"}[key] + f" = {value}"


class FeedScreen(ConsoleScreen):
    CSS_PATH = "feed.tcss"
    view_name = "Live feed"
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("space", "toggle_follow", "Pause/follow"),
        Binding("end", "follow", "Follow", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.scope: dict[str, str] = {}  # a person's feed: their orders only (set on mount from the role)
        self.criteria: dict[str, str] = {}
        self.following = True
        self.last_id: int | None = None  # newest event shown; None: (re)load the backlog
        self.shown = 0
        self.generation = 0  # bumped when the filter changes: answers to older reads are dropped

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="feed-status", markup=False)
        yield FeedLog(id="log", max_lines=MAX_LINES, wrap=False, markup=False, auto_scroll=True)
        yield Input(placeholder="order id (12 or ord-000012), event type (CookingStarted) or context (store); empty: all", id="filter")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        role, actor = self.console.role, self.console.actor
        if role in SCOPES and actor:
            self.scope = {SCOPES[role]: actor}
        self.query_one("#filter", Input).display = False
        self.query_one("#log", FeedLog).focus()
        self._show_status()

    # -- reading --------------------------------------------------------------------------------

    def reload(self) -> None:
        criteria, generation = {**self.criteria, **self.scope}, self.generation
        if self.last_id is None:
            # the head first: what commits while the backlog is read is then not skipped
            self.load("feed", lambda engine: (generation, None, engine.events.head(), engine.events.feed(None, BACKLOG, **criteria)), self.show_events)
        elif self.following:
            after = self.last_id
            self.load("feed", lambda engine: (generation, after, engine.events.head(), engine.events.feed(after, BATCH, **criteria)), self.show_events)
        else:
            self._show_status()

    def show_events(self, loaded: tuple[int, int | None, int, list[Any]]) -> None:
        generation, after, head, events = loaded
        if generation != self.generation or after != self.last_id:
            return  # the filter changed, or these were already shown
        log = self.query_one("#log", FeedLog)
        if after is None:
            log.clear()
            self.shown = 0
        for event in events:
            log.write(self._line(event), scroll_end=self.following)
        full = after is not None and len(events) == BATCH
        # A short answer covered every event up to the head read before it, matching or not, so
        # a filter that matches little does not make the next look read the same events again.
        self.last_id = events[-1].id if full else max([head, *(e.id for e in events)])
        self.shown += len(events)
        self._show_status()
        if full and self.following:
            self.reload()  # more are waiting

    def _line(self, event: Any) -> Text:
        text = Text(no_wrap=True)
        text.append(self.time(event.occurred_at), style="dim")
        text.append(f"  {event.order_id:<11} ")
        text.append(f"{event.event_type:<27}", style=CONTEXT_STYLES.get(event.context, ""))
        text.append(f" {event.actor}")
        return text

    def _show_status(self) -> None:
        filtered = self.criteria or self.scope
        waiting = max(0, self.console.head - (self.last_id or 0)) if not filtered and self.last_id is not None else 0
        if self.following:
            state = "● following"
        elif waiting:
            state = f"‖ paused · {waiting} new event{'s' if waiting != 1 else ''} waiting"
        else:
            state = "‖ paused"
        scope = f"{next(iter(self.scope.values()))}'s orders · " if self.scope else ""
        shown = f"{min(self.shown, MAX_LINES)} shown" if self.shown or not filtered or self.last_id is None else "nothing matched yet"
        self.query_one("#feed-status", Static).update(
            f"{state} · {scope}{describe_filter(self.criteria)} · {shown} · " + ("space pauses" if self.following else "space follows")
        )

    # -- following ----------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        if self.following:
            self.following = False
            self._show_status()
        else:
            self.action_follow()

    def action_follow(self) -> None:
        self.following = True
        self.query_one("#log", FeedLog).scroll_end(animate=False)
        self._show_status()
        self.reload()

    @on(FeedLog.ScrolledToEnd)
    def _scrolled_to_end(self) -> None:
        if not self.following:
            self.action_follow()

    @on(FeedLog.ScrolledUp)
    def _scrolled_up(self) -> None:
        if self.following:
            self.following = False
            self._show_status()

    # -- filtering ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        try:
            self.criteria = parse_filter(event.value)
        except UnknownFilter as unknown:
            self.notify(str(unknown), title="The filter matched nothing", severity="warning", timeout=10)
            return  # the line stays open to be corrected; the feed keeps its filter
        self.generation += 1
        self.last_id = None
        self.following = True
        event.input.display = False
        self.query_one("#log", FeedLog).focus()
        self._show_status()
        self.reload()

    def action_back(self) -> None:
        field = self.query_one("#filter", Input)
        if field.display:  # Esc first closes the filter line
            field.display = False
            self.query_one("#log", FeedLog).focus()
            return
        self.dismiss() if len(self.app.screen_stack) > 2 else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_follow", "filter", "follow") and self.focused is not None and self.focused.id == "filter":
            return False  # typing a space into the filter is not a command
        return super().check_action(action, parameters)
