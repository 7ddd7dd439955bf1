"""The console (SPEC §1): a Textual app over the engine (``backend.Backend``), with customer, store-owner and rider views,
a live feed and an operations view.

The app opens the engine in a worker thread and polls the event log's head (``engine.events.head()``, one
index lookup) in another; when any process commits an event every open screen reloads what it
shows, again in worker threads. Screens hold no business logic: the engine decides, and its error
messages are shown as they are. Screens see the app through ``screens.console.Console`` only.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.content import Content
from textual.message import Message

from .backend import open_local
from .output import jsonable
from .palette import ConsoleCommands
from .preferences import Preferences, RemembersPreferences, load_preferences, preferences_path
from .screens.base import HeadChanged
from .screens.console import OPERATOR_ROLES, PEOPLE_ROLES, ROLES
from .screens.loading import LoadingScreen

if TYPE_CHECKING:
    from pathlib import Path

    from textual.driver import Driver

    from .backend import Backend
    from .settings import Settings


ERROR_TITLES = {
    "invalid_input": "Invalid input",
    "not_found": "Not found",
    "conflict": "Not allowed now",
    "illegal_transition": "Not allowed now",
    "not_permitted": "Not permitted",
    "payment_failed": "Payment failed",
    "database_unavailable": "Database unavailable",
}


class EngineOpened(Message):
    def __init__(self, engine: Backend, catalog: dict[str, list[dict[str, Any]]], head: int, notes_after: int) -> None:
        super().__init__()
        self.engine, self.catalog, self.head, self.notes_after = engine, catalog, head, notes_after


class EngineFailed(Message):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class PollFailed(Message):
    """The poll could not read the event log (``error``), or can again (None)."""

    def __init__(self, error: BaseException | None) -> None:
        super().__init__()
        self.error = error


class NotificationsArrived(Message):
    def __init__(self, role: str, actor: str, notes: list[dict[str, Any]]) -> None:
        super().__init__()
        self.role, self.actor, self.notes = role, actor, notes


class DeliveryApp(RemembersPreferences, App[None]):
    """The console. ``role``/``actor`` open a view directly; otherwise the role picker comes first."""

    CSS_PATH = "app.tcss"
    TITLE = "deliverycli"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    # 80x24 is the designed size; below it screens shorten labels and hide secondary panes.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-normal")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (24, "-tall")]
    BINDINGS = [
        Binding("question_mark", "help", "Keys", key_display="?"),
        Binding("f2", "open_view('feed')", "Live feed", show=False),
        Binding("f3", "open_view('ops')", "Operations", show=False),
        Binding("f4", "pick_role", "Switch role", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        settings: Settings | Callable[[], Settings],
        *,
        role: str | None = None,
        actor: str | None = None,
        readonly: bool = False,
        poll_interval: float | None = 0.5,
        clock: Callable[[], datetime] | None = None,
        mask_times: bool = False,
        stuck_after_s: float = 600.0,
        preferences_file: Path | None = None,
        open_backend: Callable[..., Backend] | None = None,
    ) -> None:
        super().__init__()
        # Settings, or how to load them: loading (pydantic) in the worker lets the first screen show sooner.
        self._settings_source = settings
        self.settings: Settings | None = None if callable(settings) else settings
        self.start_role, self.start_actor = role, actor
        self.readonly = readonly
        self.poll_interval = poll_interval
        self.clock = clock or _utcnow
        self.mask_times = mask_times
        self.stuck_after_s = stuck_after_s
        self.open_backend = open_backend or open_local  # the engine on the settings' database; a remote one would do
        self.engine: Backend | None = None
        self.failure: BaseException | None = None
        self.command_lock = threading.Lock()  # one command at a time: the engine's bus is not re-entrant
        self.catalog: dict[str, list[dict[str, Any]]] = {role: [] for role in PEOPLE_ROLES}
        self.role: str | None = None
        self.actor: str | None = None
        self.head = 0
        self._notes_after = 0
        self._poll_error: str | None = None
        self.toasts: deque[str] = deque(maxlen=100)  # "title: message" of recent toasts, newest last
        self.sub_title = "read-only" if readonly else ""
        self.preferences_file = preferences_file or preferences_path()
        self.preferences: Preferences = load_preferences(self.preferences_file)
        self.motion_level = self.animation_level  # Textual's level (TEXTUAL_ANIMATIONS), restored when motion is on again

    # -- start-up -----------------------------------------------------------------------------

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        if driver.__name__ == "LinuxDriver":  # by name: its module does not import on Windows
            from .terminal_driver import QuickEscapeDriver, supported

            if supported():
                return QuickEscapeDriver
        return driver

    def get_default_screen(self) -> LoadingScreen:
        # Not the engine's URL: the engine (and SQLAlchemy) load in the worker, after this is drawn.
        db = self.settings.db if self.settings is not None else None
        return LoadingScreen(db.split("@")[-1] if db else "the database")

    def on_mount(self) -> None:
        self.apply_preferences()
        self.theme_changed_signal.subscribe(self, self.theme_changed)
        self.open_engine()

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False)
    def open_engine(self) -> None:
        from .engine.errors import InvalidInput, NotFound

        engine = None
        try:
            if self.start_role is not None and self.start_role not in ROLES:
                raise InvalidInput(f"unknown role {self.start_role!r}; one of: {', '.join(ROLES)}")
            if self.settings is None:
                self.settings = self._settings_source()  # type: ignore[operator]
            engine = self.open_backend(self.settings, readonly=self.readonly)
            catalog = self.load_catalog(engine)
            if self.start_role in PEOPLE_ROLES and self.start_actor is not None:
                if not any(p["id"] == self.start_actor for p in catalog[self.start_role]):
                    raise NotFound(f"no {self.start_role} {self.start_actor!r}")
            notes_after = self._newest_note(engine, self.start_role, self.start_actor)
            self.post_message(EngineOpened(engine, catalog, engine.events.head(), notes_after))
        except Exception as error:  # noqa: BLE001 - reported by the `tui` command with its exit code
            if engine is not None:
                engine.close()
            self.post_message(EngineFailed(error))

    @staticmethod
    def load_catalog(engine: Backend) -> dict[str, list[dict[str, Any]]]:
        return {"customer": jsonable(engine.catalog.customers()), "store": jsonable(engine.catalog.stores()), "rider": jsonable(engine.catalog.riders())}

    @staticmethod
    def _newest_note(engine: Backend, role: str | None, actor: str | None) -> int:
        if role not in PEOPLE_ROLES or actor is None:
            return 0
        newest = jsonable(engine.notifications.list(role, actor, limit=1))
        return newest[-1]["id"] if newest else 0

    @on(EngineOpened)
    def _engine_opened(self, message: EngineOpened) -> None:
        self.engine, self.catalog, self.head, self._notes_after = message.engine, message.catalog, message.head, message.notes_after
        from .screens.role_picker import RolePickerScreen

        last = self.preferences
        self.push_screen(RolePickerScreen(self.start_role or last.last_role, None if self.start_role else last.last_actor))
        if self.start_role in ("ops", "feed") or (self.start_role in PEOPLE_ROLES and self.start_actor):
            self.open_role(self.start_role, self.start_actor, notes_after=self._notes_after)
        if self.poll_interval:
            self.set_interval(self.poll_interval, self.poll)

    @on(EngineFailed)
    def _engine_failed(self, message: EngineFailed) -> None:
        self.failure = message.error
        self.exit(return_code=getattr(message.error, "exit_code", 1))

    def on_unmount(self) -> None:
        if self.engine is not None:
            self.engine.close()

    # -- roles and views ----------------------------------------------------------------------

    @property
    def is_operator(self) -> bool:
        """The operations and live-feed roles, and whoever has not picked a role yet."""
        return self.role is None or self.role in OPERATOR_ROLES

    def person(self, role: str, actor: str) -> dict[str, Any]:
        return next((p for p in self.catalog.get(role, []) if p["id"] == actor), {"id": actor, "name": actor, "address": ""})

    def open_role(self, role: str, actor: str | None = None, notes_after: int | None = None) -> None:
        """Show ``role``'s view for ``actor`` over the role picker (Esc goes back to the picker)."""
        self._open_role(role, actor, notes_after)

    @work(exclusive=True, group="role")
    async def _open_role(self, role: str, actor: str | None, notes_after: int | None) -> None:
        from .screens.customer import CustomerScreen
        from .screens.feed import FeedScreen
        from .screens.ops import OpsScreen
        from .screens.rider import RiderScreen
        from .screens.store import StoreScreen

        while len(self.screen_stack) > 2:
            await self.pop_screen()
        if role not in ROLES or (role in PEOPLE_ROLES and actor is None):  # back to the picker
            self.role = self.actor = None
            self.sub_title = self._subtitle("pick a role")
            return
        self.role, self.actor = role, actor
        self.save_preferences(last_role=role, last_actor=actor)
        person = self.person(role, actor) if actor else None
        screens = {"customer": CustomerScreen, "store": StoreScreen, "rider": RiderScreen}
        if role in screens:
            self.sub_title = self._subtitle(f"{role} {actor}")
            if notes_after is None:
                notes_after = await self._run_in_thread(self._newest_note, role, actor)
            self._notes_after = notes_after
            await self.push_screen(screens[role](person))
        elif role == "ops":
            self.sub_title = self._subtitle("operations")
            await self.push_screen(OpsScreen())
        else:
            self.sub_title = self._subtitle("live feed")
            await self.push_screen(FeedScreen())

    async def _run_in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        worker = self.run_worker(lambda: fn(self.engine, *args), thread=True, group="role-lookup", exit_on_error=False)
        await worker.wait()
        return worker.result

    def _subtitle(self, who: str) -> str:
        return f"{who} · read-only" if self.readonly else who

    def open_order(self, order_id: str) -> None:
        """Show one order's detail and timeline over the current view."""
        self._open_order(order_id)

    @work(exclusive=True, group="order")
    async def _open_order(self, order_id: str) -> None:
        # Read first, then push: the detail's first paint is whole (no empty frame, no second
        # layout), and an order that cannot be read is only an error, not a screen that closes again.
        from textual.worker import WorkerFailed

        from .screens.order_detail import OrderDetailScreen, read_order

        try:
            loaded = await self._run_in_thread(read_order, order_id)
        except WorkerFailed as failed:
            self.show_error(failed.error)
            return
        await self.push_screen(OrderDetailScreen(order_id, loaded))

    def action_open_view(self, view: str) -> None:
        """The live feed or the operations view, over the current one (Esc comes back)."""
        from .screens.feed import FeedScreen
        from .screens.ops import OpsScreen

        if self.engine is None or (view == "ops" and not self.is_operator):
            return
        screen_type = FeedScreen if view == "feed" else OpsScreen
        if isinstance(self.screen, screen_type):
            return
        self.push_screen(screen_type())

    def action_pick_role(self) -> None:
        if self.engine is not None:
            self._open_role("picker", None, None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_view" and parameters == ("ops",):
            return self.is_operator  # the operations view belongs to the operator
        return True

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    # -- live updates -------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def poll(self) -> None:
        """One index lookup: has any process committed an event since we last looked?"""
        if self.engine is None:
            return
        try:
            head = self.engine.events.head()
        except Exception as error:  # noqa: BLE001 - said once, and polling goes on
            self.post_message(PollFailed(error))
            return
        if self._poll_error is not None:
            self.post_message(PollFailed(None))
        if head != self.head:
            self.post_message(HeadChanged(head))

    @on(PollFailed)
    def _poll_failed(self, message: PollFailed) -> None:
        text = None if message.error is None else getattr(message.error, "message", str(message.error))
        if text == self._poll_error:
            return
        if text is None:
            self.notify("The database answers again; the views are live.", title="Reconnected", markup=False)
        else:
            self.show_error(message.error)  # type: ignore[arg-type]
        self._poll_error = text

    @on(HeadChanged)
    def _head_changed(self, message: HeadChanged) -> None:
        self.head = message.head
        from textual.screen import ModalScreen

        # Reload what is visible: the top screen and any under dialogs. Covered screens reload when
        # they are shown again (on resume), so a deep stack costs nothing while hidden.
        for screen in reversed(self.screen_stack):
            if getattr(screen, "LIVE", False):
                screen.post_message(HeadChanged(message.head))
            if not isinstance(screen, ModalScreen):
                break
        if self.role in PEOPLE_ROLES and self.actor:
            self.fetch_notifications(self.role, self.actor, self._notes_after)

    @work(thread=True, exclusive=True, group="notifications", exit_on_error=False)
    def fetch_notifications(self, role: str, actor: str, after: int) -> None:
        notes = jsonable(self.engine.notifications.list(role, actor, after=after, limit=50))
        if notes:
            self.post_message(NotificationsArrived(role, actor, notes))

    @on(NotificationsArrived)
    def _notifications_arrived(self, message: NotificationsArrived) -> None:
        if (message.role, message.actor) != (self.role, self.actor):
            return  # the role changed meanwhile
        fresh = [n for n in message.notes if n["id"] > self._notes_after]
        if not fresh:
            return
        self._notes_after = fresh[-1]["id"]
        for note in fresh[-3:]:
            self.notify(note["message"], title=f"Notification · {note['order_id']}", timeout=6, markup=False)
        if len(fresh) > 3:
            self.notify(f"and {len(fresh) - 3} more notifications", timeout=6, markup=False)

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None, markup: bool = True) -> None:
        """A toast, remembered in ``toasts`` as plain text. Textual's own messages use markup; the
        console's pass ``markup=False``, so engine words are shown literally."""
        self.toasts.append(f"{title}: {Content.from_markup(message).plain if markup else message}")
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # -- errors -------------------------------------------------------------------------------

    def show_error(self, error: BaseException) -> None:
        """A failed command or query, worded as the engine words it."""
        from .engine.errors import DeliveryError

        if isinstance(error, DeliveryError):
            self.notify(error.message, title=ERROR_TITLES.get(error.code, "Error"), severity="error", timeout=8, markup=False)
        else:
            self.notify(f"internal error: {type(error).__name__}: {error}", title="Error", severity="error", timeout=10, markup=False)


def _utcnow() -> datetime:
    from .engine.storage import utcnow

    return utcnow()
