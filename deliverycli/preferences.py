"""The console's preferences: theme, reduced motion, the last role and id, and each customer's last
delivery address. A JSON file beside the settings file (the platform's config folder by default,
``$DELIVERYCLI_CONFIG``'s folder when that is set); a missing or unreadable file means defaults,
and a file that cannot be written is not an error: preferences are a convenience."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from .settings import config_path

FILE_NAME = "console.json"


class Preferences(BaseModel):
    """What the console remembers between runs."""

    theme: str | None = None
    reduced_motion: bool = False
    last_role: str | None = None
    last_actor: str | None = None
    addresses: dict[str, str] = {}  # customer id -> the address of their last order


def preferences_path() -> Path:
    """Where the preferences live: beside the settings file."""
    return config_path().with_name(FILE_NAME)


def load_preferences(path: Path | None = None) -> Preferences:
    """The saved preferences, or defaults when there are none (or they cannot be read)."""
    path = path or preferences_path()
    try:
        return Preferences.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return Preferences()


def save_preferences(preferences: Preferences, path: Path | None = None) -> bool:
    """Write ``preferences`` (atomically: a reader never sees half a file); False if it could not."""
    path = path or preferences_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(preferences.model_dump_json(indent=2) + "\n", encoding="utf-8")
        partial.replace(path)
        return True
    except OSError:
        return False


def reset_preferences(path: Path | None = None) -> None:
    """Forget every preference (remove the file)."""
    try:
        (path or preferences_path()).unlink(missing_ok=True)
    except OSError:
        pass


class RemembersPreferences:
    """The console app's side of its preferences: applied on start, saved as they change, reset on
    request. The app sets ``preferences``, ``preferences_file`` and ``motion_level`` (Textual's
    animation level, from TEXTUAL_ANIMATIONS) before it mounts."""

    preferences: Preferences
    preferences_file: Path
    motion_level: Any

    if TYPE_CHECKING:  # what the App it is mixed into provides
        theme: str
        animation_level: Any
        available_themes: dict[str, Any]

        def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None, markup: bool = True) -> None: ...

    def apply_preferences(self) -> None:
        """The remembered theme (if it still exists) and motion."""
        if self.preferences.theme and self.preferences.theme in self.available_themes:
            self.theme = self.preferences.theme
        self.animation_level = "none" if self.preferences.reduced_motion else self.motion_level

    def theme_changed(self, theme: Any) -> None:
        """Textual's theme changed (the palette's "Change theme"): remember it."""
        from textual.constants import DEFAULT_THEME

        self.save_preferences(theme=None if theme.name == DEFAULT_THEME else theme.name)

    def save_preferences(self, **changes: Any) -> None:
        """Remember ``changes`` (fields of Preferences) for the next start."""
        updated = self.preferences.model_copy(update=changes)
        if updated != self.preferences:
            self.preferences = updated
            save_preferences(updated, self.preferences_file)

    def reset_preferences(self) -> None:
        """Forget every preference: the file goes, and theme and motion are Textual's defaults again."""
        from textual.constants import DEFAULT_THEME

        reset_preferences(self.preferences_file)
        self.preferences = Preferences()
        self.theme = DEFAULT_THEME
        self.apply_preferences()
        self.notify(f"Theme, motion, last role and addresses are forgotten ({self.preferences_file} removed).", title="Preferences reset", markup=False)

    def toggle_reduced_motion(self) -> None:
        """Animations off (tabs switch at once), or back to Textual's level; remembered."""
        self.save_preferences(reduced_motion=not self.preferences.reduced_motion)
        self.apply_preferences()
        state = "off: views switch at once" if self.preferences.reduced_motion else f"at Textual's level ({self.motion_level})"
        self.notify(f"Animations are {state}.", title="Reduced motion", markup=False)
