"""What a screen may ask of the console it runs in. Screens and the palette depend on this, never
on the app module, so the app imports its screens and nothing imports the app back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..backend import Backend
    from ..preferences import Preferences
    from ..settings import Settings

ROLES = ("customer", "store", "rider", "ops", "feed")
PEOPLE_ROLES = ("customer", "store", "rider")
OPERATOR_ROLES = ("ops", "feed")  # who may see every order's events, the operations view and dead letters


class Console(Protocol):
    """The console app as its screens see it: the engine, who is using it, and a few services."""

    engine: Backend | None
    settings: Settings | None
    catalog: dict[str, list[dict[str, Any]]]
    role: str | None
    actor: str | None
    readonly: bool
    head: int
    mask_times: bool
    clock: Callable[[], datetime]
    stuck_after_s: float
    poll_interval: float | None
    command_lock: threading.Lock
    preferences: Preferences

    @property
    def is_operator(self) -> bool:
        """True for the operations and live-feed roles (and before a role is picked)."""

    def person(self, role: str, actor: str) -> dict[str, Any]:
        """A customer, store or rider of the catalog."""

    def load_catalog(self, engine: Backend) -> dict[str, list[dict[str, Any]]]:
        """Every customer, store and rider."""

    def open_role(self, role: str, actor: str | None = None, notes_after: int | None = None) -> None:
        """Show a role's view."""

    def open_order(self, order_id: str) -> None:
        """Show one order's detail over the current view."""

    def action_open_view(self, view: str) -> None:
        """The live feed or the operations view, over the current one."""

    def action_pick_role(self) -> None:
        """Back to the role picker."""

    def show_error(self, error: BaseException) -> None:
        """A failed command or query, worded as the engine words it."""

    def save_preferences(self, **changes: Any) -> None:
        """Remember preferences (last role, address, motion) for the next start."""

    def reset_preferences(self) -> None:
        """Forget every remembered preference."""

    def toggle_reduced_motion(self) -> None:
        """Turn animations off (or back to Textual's level) and remember it."""
