"""What every console screen shares: engine calls in thread workers that answer with messages,
reloading when any process commits an event, and errors shown as the engine words them."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, TabbedContent

if TYPE_CHECKING:
    from ..app import DeliveryApp
    from ..engine.bootstrap import Engine

Call = Callable[["Engine"], Any]
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

    BINDINGS = [Binding("escape", "back", "Back")]

    # Reload whenever any process commits an event (False: only on mount and resume).
    LIVE = True
    # Commands a read-only console hides (see check_action).
    COMMAND_ACTIONS: frozenset[str] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loading: set[str] = set()
        self._load_again: dict[str, tuple[Call, Handler, Handler | None]] = {}

    @property
    def console(self) -> DeliveryApp:
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
        self.reload()

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.reload()

    @on(HeadChanged)
    def _head_changed(self, message: HeadChanged) -> None:
        message.stop()
        self.reload()

    # -- helpers ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.COMMAND_ACTIONS and self.console.readonly:
            return False
        return True

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:  # the role picker stays at the bottom
            self.dismiss()

    def time(self, value: Any) -> str:
        from ..widgets.format import clock_time

        return clock_time(value, self.console.mask_times)

    def fill(self, table: DataTable, rows: list[tuple[str, tuple[Any, ...]]]) -> bool:
        """Show ``rows`` (key, cells) in ``table``, keeping the cursor on its row; a table already
        showing exactly these rows is left alone, so a refresh that changed nothing costs nothing."""
        if getattr(table, "_shown_rows", None) == rows:
            return False
        keep = self._highlighted_key(table)
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        table._shown_rows = rows  # type: ignore[attr-defined]
        self._restore(table, keep)
        return True

    @staticmethod
    def _highlighted_key(table: DataTable) -> str | None:
        """The key of the row under the table's cursor, if any."""
        if table.row_count == 0 or table.cursor_row < 0:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001 - the cursor is past the rows
            return None

    @staticmethod
    def _restore(table: DataTable, key: str | None) -> None:
        """Put the cursor back on the row with ``key`` after the table was refilled."""
        if key is None:
            return
        try:
            table.move_cursor(row=table.get_row_index(key), animate=False)
        except Exception:  # noqa: BLE001 - that row is gone
            pass


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

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        target = self.TAB_FOCUS.get(event.pane.id or "")
        if target:
            self.query_one(target).focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        if not allowed:
            return allowed
        only_on = self.TAB_ACTIONS.get(action)
        return only_on is None or self.active_tab() == only_on
