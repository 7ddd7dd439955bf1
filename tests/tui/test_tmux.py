"""Smoke test: the real `deliverycli tui` in a real terminal (tmux), read back from the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One detached tmux session on a private server, so nothing touches the user's own tmux."""

    def __init__(self, command: list[str], env: dict[str, str], size: tuple[int, int] = (100, 30)) -> None:
        self.socket = f"deliverycli-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        line = f"env {exports} " + " ".join(command) + "; echo EXITED=$?; sleep 30"
        self.run("new-session", "-d", "-s", "t", "-x", str(size[0]), "-y", str(size[1]), line)

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")

    def wait_for_gone(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while text in self.screen():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} stayed; the screen shows:\n{self.screen()}")
            time.sleep(0.1)

    def close(self) -> None:
        self.run("kill-server")


@pytest.fixture
def tmux_session(demo_db: str):  # noqa: ANN201
    sessions: list[Tmux] = []

    def start(*args: str) -> Tmux:
        deliverycli = str(Path(sys.executable).with_name("deliverycli"))
        env = {"TERM": "xterm-256color", "DELIVERYCLI_CONFIG": os.environ["DELIVERYCLI_CONFIG"], "PYTHONDONTWRITEBYTECODE": "1"}
        session = Tmux([deliverycli, "--db", demo_db, *args], env)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.close()


def test_the_real_console_in_a_terminal(tmux_session, demo_db: str) -> None:  # noqa: ANN001
    import deliverycli

    with deliverycli.open_engine(demo_db) as engine:
        engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")

    term = tmux_session("tui", "--role", "store", "--as", "pizza-palace")
    term.wait_for("a Accept")  # the footer is drawn last
    screen = term.wait_for("ord-000001")
    assert "1 New (1)" in screen and "✚ NEW" in screen
    term.keys("?")
    term.wait_for("Keys · Store owner")
    term.keys("Escape")
    term.wait_for_gone("Keys · Store owner")  # a key right after Escape would read as Alt+key
    term.keys("a")  # accept: asks how long cooking takes (the usual time filled in), then the order moves to Cooking
    term.wait_for("Accept order ord-000001?")
    term.keys("Enter")
    term.wait_for("2 Cooking (1)")
    with deliverycli.open_engine(demo_db) as engine:
        engine.orders.place("bob", "pizza-palace", ["cola"], "22 Pine St")  # another process: shows within a second
    term.wait_for("ord-000002", timeout=5)
    term.keys("C-q")
    term.wait_for("EXITED=0")


def test_no_arguments_on_a_terminal_opens_the_role_picker(tmux_session) -> None:  # noqa: ANN001
    term = tmux_session()
    term.wait_for("Who is using the console?")
    term.wait_for("rider-kim")
    term.keys("C-q")
    term.wait_for("EXITED=0")
