"""Fixtures for the console's tests: a demo database and apps that poll it fast."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deliverycli.app import DeliveryApp
from deliverycli.settings import load_settings

POLL_S = 0.2  # tests poll fast; the product polls every 0.5 s


@pytest.fixture
def demo_db(tmp_path: Path) -> str:
    import deliverycli

    path = str(tmp_path / "console.db")
    deliverycli.initialise(path, demo=True).close()
    return path


def async_test(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run an async test in its own event loop (the project has no asyncio pytest plugin)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(fn(*args, **kwargs))

    return run


def make_app(db: str, role: str | None = None, actor: str | None = None, **options: Any) -> DeliveryApp:
    options.setdefault("poll_interval", POLL_S)
    return DeliveryApp(load_settings(db=db, retry_backoff_s=0.001), role=role, actor=actor, **options)


async def settle(pilot: Any) -> None:
    """Let pending engine calls finish and their answers be shown."""
    from textual.worker import WorkerCancelled, WorkerFailed

    await pilot.pause(0)  # every message already queued for the screen is handled
    for worker in list(pilot.app.workers):
        try:
            await worker.wait()
        except (WorkerCancelled, WorkerFailed):
            pass  # an exclusive poll replaced by the next one, or an error already shown
    await pilot.pause(0)


# Textual's names of the keys that type these characters (the ones bindings here use).
KEY_NAMES = {"+": "plus", "-": "minus", "/": "slash", "?": "question_mark", " ": "space", "[": "left_square_bracket", "]": "right_square_bracket"}
CHARACTERS = {name: character for character, name in KEY_NAMES.items()}


async def press(pilot: Any, *keys: str) -> None:
    """Type keys into one app, each as a terminal would report it, and let the screen handle each.

    Unlike ``Pilot.press`` this does not wait for the whole process to use no CPU, which never
    happens quickly while three consoles poll one database; tests wait for the outcome they expect.
    """
    from textual import events
    from textual.keys import key_to_character

    for key in keys:
        key = KEY_NAMES.get(key, key)  # a character, or a key's name ("down", "ctrl+p", "plus")
        event = events.Key(key, CHARACTERS.get(key) or key_to_character(key))
        event.set_sender(pilot.app)
        pilot.app.post_message(event)
        await pilot.pause(0)


async def type_text(pilot: Any, text: str) -> None:
    await press(pilot, *text)


async def wait_until(pilots: Any, predicate: Callable[[], Any], timeout: float = 30.0, what: str | Callable[[], str] = "") -> Any:
    """Pause the given pilot(s) until ``predicate()`` is truthy; fail after ``timeout`` seconds (a
    deadline for a loaded machine, not a measure: the outcome normally shows in well under a second)."""
    pilots = pilots if isinstance(pilots, (list, tuple)) else [pilots]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what or predicate}")
        for pilot in pilots:
            await pilot.pause(0.02)


async def started(pilot: Any, screen_name: str) -> Any:
    """Wait until the app opened its engine, shows ``screen_name`` with its first widget focused,
    and has shown the first answers of the engine."""
    screen = await on_screen(pilot, screen_name)
    await settle(pilot)
    return screen


def top(app: DeliveryApp) -> Any:
    """The screen on top, or None while the app is still starting."""
    return app.screen_stack[-1] if app.screen_stack else None


async def on_screen(pilot: Any, screen_name: str) -> Any:
    """Wait until ``screen_name`` is on top and has focused its first widget: ready for keys (a
    key sent before that would go to no widget, or to one the screen then takes the focus from)."""
    app = pilot.app
    await wait_until(pilot, lambda: type(top(app)).__name__ == screen_name and top(app).focused is not None, what=f"screen {screen_name}")
    return app.screen


def rows(app: DeliveryApp, table_id: str) -> list[list[str]]:
    """The cells of a DataTable on the current screen (or beneath a dialog), as plain text."""
    from textual.widgets import DataTable

    for screen in reversed(app.screen_stack):
        found = screen.query(f"#{table_id}")
        if found:
            table = found.first(DataTable)
            return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
    raise LookupError(table_id)


def row_of(app: DeliveryApp, table_id: str, order_id: str) -> list[str] | None:
    return next((r for r in rows(app, table_id) if order_id in r), None)


def notifications(app: DeliveryApp) -> list[str]:
    """The toasts shown so far (title and message)."""
    return list(app.toasts)


def dialog_text(app: DeliveryApp) -> str:
    """The text of the dialog on top, if any."""
    from textual.widgets import Static

    return "\n".join(str(s.render()) for s in app.screen.query(Static))
