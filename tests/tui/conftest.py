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


async def settle(pilot: Any, delay: float = 0.05) -> None:
    """Let pending engine calls finish and their answers be shown."""
    from textual.worker import WorkerCancelled, WorkerFailed

    await asyncio.sleep(delay)
    for worker in list(pilot.app.workers):
        try:
            await worker.wait()
        except (WorkerCancelled, WorkerFailed):
            pass  # an exclusive poll replaced by the next one, or an error already shown
    await asyncio.sleep(delay)


async def press(pilot: Any, *keys: str, delay: float = 0.03) -> None:
    """Type keys into one app. Unlike ``Pilot.press`` this does not wait for the whole process to
    go idle, which never happens quickly while three consoles poll one database."""
    from textual import events
    from textual.keys import _character_to_key

    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        char = {"space": " ", "plus": "+", "minus": "-", "slash": "/", "question_mark": "?"}.get(key, key if len(key) == 1 else None)
        event = events.Key(key, char)
        event.set_sender(pilot.app)
        pilot.app._driver.send_message(event)
        await asyncio.sleep(delay)


async def type_text(pilot: Any, text: str) -> None:
    await press(pilot, *[("space" if ch == " " else ch) for ch in text], delay=0.005)


async def wait_until(pilots: Any, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Pause the given pilot(s) until ``predicate()`` is truthy; fail after ``timeout`` seconds."""
    pilots = pilots if isinstance(pilots, (list, tuple)) else [pilots]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        for pilot in pilots:
            await pilot.pause(0.02)
        await asyncio.sleep(0.01)


async def started(pilot: Any, screen_name: str) -> None:
    """Wait until the app opened its engine and shows ``screen_name``."""
    await wait_until(pilot, lambda: type(top(pilot.app)).__name__ == screen_name, what=f"screen {screen_name}")
    await settle(pilot)


def top(app: DeliveryApp) -> Any:
    """The screen on top, or None while the app is still starting."""
    return app.screen_stack[-1] if app.screen_stack else None


async def on_screen(pilot: Any, screen_name: str) -> Any:
    """Wait until ``screen_name`` is on top and has focused its first widget: ready for keys."""
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
