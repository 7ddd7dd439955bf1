"""What every console screen shares: engine calls in thread workers that answer with messages,
reloading when any process commits an event, errors shown as the engine words them, and the keys
of its tables: `/` searches, `o` sorts, `y` copies the highlighted order id."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Input, Static, TabbedContent

from ..widgets.table import ConsoleTable

if TYPE_CHECKING:
    from ..backend import Backend
    from .console import Console

Call = Callable[["Backend"], Any]
Handler = Callable[[Any], None]


class HeadChanged(Message):
    """Some process committed events: the newest event id is now ``head``."""

    bubble = False

    def __init__(self, head: int) -> None:
        super().__init__()
        self.head = head


class EngineReply(Message):
    """The answer to an engine call made in a worker thread, handled back on the UI thread."""

    bubble = False

    def __init__(self, key: str | None, on_done: Handler, value: Any = None, error: BaseException | None = None, on_error: Handler | None = None) -> None:
        super().__init__()
        self.key = key
        self.on_done = on_done
        self.value = value
        self.error = error
        self.on_error = on_error


class ConsoleScreen(Screen):
    """A screen that reads and commands through the app's engine, never on the UI thread."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search table", key_display="/", show=False),
        Binding("o", "sort", "Sort table", show=False),
        Binding("y", "copy_order_id", "Copy order id", show=False),
    ]

    # Reload whenever any process commits an event (False: only on mount and resume).
    LIVE = True
    # Commands a read-only console hides (see check_action).
    COMMAND_ACTIONS: frozenset[str] = frozenset()
    TABLE_ACTIONS = frozenset({"search", "sort"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loading: set[str] = set()
        self._load_again: dict[str, tuple[Call, Handler, Handler | None]] = {}
        self.searched: ConsoleTable | None = None  # the table the search line filters
        self._loaded_head: int | None = None  # the event log's head (as the app last polled it) at the last reload

    @property
    def console(self) -> Console:
        return self.app  # type: ignore[return-value]

    # -- engine calls -------------------------------------------------------------------------

    def load(self, key: str, call: Call, show: Handler, failed: Handler | None = None) -> None:
        """Run the read ``call(engine)`` in a thread worker and hand its result to ``show``.

        One call per key runs at a time; asking again meanwhile runs it once more afterwards with
        the newest arguments, so a slow query is neither starved by polling nor run in a pile.
        """
        if key in self._loading:
            self._load_again[key] = (call, show, failed)
            return
        self._loading.add(key)
        self.run_worker(partial(self._call, key, call, show, failed, False), thread=True, group=f"load-{key}", exit_on_error=False)

    def act(self, call: Call, done: Handler, failed: Handler | None = None) -> None:
        """Run a command ``call(engine)`` in a thread worker; the app runs one command at a time."""
        self.run_worker(partial(self._call, None, call, done, failed, True), thread=True, group="command", exit_on_error=False)

    def _call(self, key: str | None, call: Call, done: Handler, failed: Handler | None, command: bool) -> None:
        engine = self.console.engine
        try:
            if command:
                with self.console.command_lock:
                    value = call(engine)
            else:
                value = call(engine)
        except Exception as error:  # noqa: BLE001 - every failure is reported on the UI thread
            self.post_message(EngineReply(key, done, error=error, on_error=failed))
            return
        self.post_message(EngineReply(key, done, value))

    @on(EngineReply)
    def _replied(self, message: EngineReply) -> None:
        message.stop()
        if message.key is not None:
            self._loading.discard(message.key)
            again = self._load_again.pop(message.key, None)
            if again is not None:
                self.load(message.key, *again)
        if message.error is None:
            message.on_done(message.value)
        else:
            (message.on_error or self.console.show_error)(message.error)
            if message.key is None:
                self.reload()  # a refused command often means what we show is out of date

    # -- live data ----------------------------------------------------------------------------

    def reload(self) -> None:
        """Load what the screen shows; called on mount, on resume and whenever the event log grows."""

    def on_mount(self) -> None:
        self._reload_at_head()  # Textual calls every class's on_mount, this one after the screen's own

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.resumed()

    def resumed(self) -> None:
        """Shown again (a dialog or view over it closed): reload if any process committed events
        since the last reload (hidden, the screen was not told), unless the screen knows better."""
        if self.console.head != self._loaded_head:
            self._reload_at_head()

    def _reload_at_head(self) -> None:
        self._loaded_head = self.console.head
        self.reload()

    @on(HeadChanged)
    def _head_changed(self, message: HeadChanged) -> None:
        message.stop()
        self._reload_at_head()

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None, markup: bool = False) -> None:
        """A toast; the console's own messages (and the engine's words in them) are shown literally."""
        self.app.notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # -- keys ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.COMMAND_ACTIONS and self.console.readonly:
            return False
        if action in self.TABLE_ACTIONS:
            return self.focused_table() is not None
        if action == "copy_order_id":
            return self.highlighted_order_id() is not None
        return True

    def action_back(self) -> None:
        table = self.focused_table()
        if table is not None and table.search:  # esc first clears a search
            self._end_search(table)
            return
        if len(self.app.screen_stack) > 2:  # the role picker stays at the bottom
            self.dismiss()

    def time(self, value: Any) -> str:
        from ..widgets.format import clock_time

        return clock_time(value, self.console.mask_times)

    def key_rows(self) -> list[tuple[str, str, str]]:
        """This view's keys for the help screen: (key, what it does, where it works)."""
        ours = {(b.action, b.description) for b in self.declared_bindings()}
        rows: list[tuple[str, str, str]] = []
        seen: set[tuple[str, str]] = set()
        for active in self.active_bindings.values():
            binding = active.binding
            display = self.app.get_key_display(binding)
            if binding.system or not binding.description or (display, binding.description) in seen:
                continue
            seen.add((display, binding.description))
            if active.node is self:  # Textual's own screen keys (tab, copy) work on every screen
                where = "this view" if (binding.action, binding.description) in ours else "everywhere"
            else:
                where = "everywhere" if active.node is self.app else "this table"
            rows.append((display, binding.description + ("" if active.enabled else " (not now)"), where))
        return rows

    def declared_bindings(self) -> list[Binding]:
        """The bindings this console's screen classes declare (not Textual's)."""
        return [
            binding
            for cls in type(self).__mro__
            if cls.__module__.startswith("deliverycli.")
            for binding in cls.__dict__.get("BINDINGS", [])
            if isinstance(binding, Binding)
        ]

    # -- tables: search, sort, copy -----------------------------------------------------------

    def focused_table(self) -> ConsoleTable | None:
        focused = self.focused
        if isinstance(focused, ConsoleTable):
            return focused
        if isinstance(focused, Input) and focused.id == "search":
            return self.searched
        return None

    def highlighted_order_id(self) -> str | None:
        """The order the reader is on: the highlighted row of the focused table, if it holds orders."""
        table = self.focused_table()
        return table.highlighted_order() if table is not None else None

    def action_copy_order_id(self) -> None:
        order_id = self.highlighted_order_id()
        if order_id:
            self.app.copy_to_clipboard(order_id)
            self.notify(f"{order_id} is on the clipboard.", title="Copied", timeout=3)

    def action_sort(self) -> None:
        table = self.focused_table()
        if table is not None:
            table.sort_next()

    async def action_search(self) -> None:
        table = self.focused_table()
        if table is None:
            return
        self.searched = table
        if not self.query("#search-bar"):
            await self.mount(Horizontal(Static(id="search-label", markup=False), Input(id="search", compact=True), id="search-bar"))
        name = table.border_title or table.name or (table.id or "table").replace("-", " ")
        self.query_one("#search-label", Static).update(f"/ {name}: ")
        field = self.query_one("#search", Input)
        field.placeholder = "text in any column · enter keeps it · esc clears it"
        field.value = table.search
        self.query_one("#search-bar").display = True
        field.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self.searched is not None:
            self.searched.set_search(event.value)

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.searched is not None:
            if not self.searched.search:
                self.query_one("#search-bar").display = False
            self.searched.focus()

    def _end_search(self, table: ConsoleTable) -> None:
        table.set_search("")
        for bar in self.query("#search-bar"):
            bar.display = False
        table.focus()


class TabbedScreen(ConsoleScreen):
    """A console screen whose views are the tabs of one ``TabbedContent`` (``#tabs``): showing a
    tab focuses its widget, and an action that belongs to one tab is offered only there."""

    FIRST_TAB: ClassVar[str]
    TAB_FOCUS: ClassVar[dict[str, str]]  # tab -> selector of the widget to focus when it is shown
    TAB_ACTIONS: ClassVar[dict[str, str]]  # action -> the only tab it applies on

    def active_tab(self) -> str:
        tabs = self.query("#tabs")
        return tabs.first(TabbedContent).active if tabs else self.FIRST_TAB

    def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab

    def relabel_tabs(self, labels: dict[str, str]) -> None:
        """Set tab labels (tab id -> text), then move the underline to the active tab's new width:
        Textual places it from the label's old width when the relayout lands after its own call."""
        from textual.widgets import Tab

        tabs = self.query_one("#tabs", TabbedContent)
        for tab_id, text in labels.items():
            tab = tabs.get_tab(tab_id)
            if str(tab.label) == text:
                continue
            tab.label = text
            if tab_id == tabs.active:
                self.call_after_refresh(tab.post_message, Tab.Relabelled(tab))

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        target = self.TAB_FOCUS.get(event.pane.id or "")
        focused = self.focused
        # A late activation (the first one, on a loaded machine) must not pull the focus back
        # from where the reader already moved it inside this tab.
        if target and (focused is None or event.pane not in focused.ancestors_with_self):
            self.query_one(target).focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if not allowed:
            return allowed
        only_on = self.TAB_ACTIONS.get(action)
        return only_on is None or self.active_tab() == only_on

    def key_rows(self) -> list[tuple[str, str, str]]:
        """This view's keys, with those of its other tabs said to work there."""
        rows = super().key_rows()
        tabs = self.query_one("#tabs", TabbedContent)
        for binding in self.declared_bindings():
            tab = self.TAB_ACTIONS.get(binding.action.partition("(")[0])
            if tab and tab != self.active_tab():
                label = str(tabs.get_tab(tab).label).split(" (")[0]  # "2 Cooking (3)" -> "Cooking" (also unnumbered, when narrow)
                label = label.partition(" ")[2] if label[:1].isdigit() else label
                rows.append((self.app.get_key_display(binding), f"{binding.description} (on the {label} tab)", "this view"))
        return rows
