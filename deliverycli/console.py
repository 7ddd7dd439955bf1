"""Starting the console from the command line: the checks before Textual loads, then the app.

Shared by `deliverycli tui` and `deliverycli` alone at a terminal; Textual is imported only here,
when the console really starts, so the rest of the CLI starts without it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from .screens.console import ROLES

if TYPE_CHECKING:
    from .settings import Settings

# Textual reports Esc only after this long without a following byte (its default: 100 ms); a terminal
# sends an escape sequence's bytes together, so 25 ms still tells Esc from Alt+key or an arrow. Its
# Linux driver looks at the clock only when its 100 ms input poll returns, so Esc still waits for
# that poll; what 25 ms removes is the second poll that a 100 ms delay often just misses (measured in
# tmux: p90 187 ms, was 256). Terminals with the kitty keyboard protocol report Esc at once.
ESCAPE_DELAY_MS = "25"


def launch(settings: Callable[[], Settings], role: str | None = None, actor: str | None = None, readonly: bool = False) -> None:
    """Run the console until it quits; a failure to open it is raised as the domain error it is.

    ``settings`` loads the settings: in the app's worker, so the first screen shows sooner."""
    from .engine.errors import InvalidInput

    if role is not None and role not in ROLES:
        raise InvalidInput(f"--role {role!r} is not valid; use one of: {', '.join(ROLES)}")
    if actor is not None and role not in ("customer", "store", "rider"):
        raise InvalidInput("--as needs --role customer, store or rider")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InvalidInput(
            "the console needs a terminal (standard input and output are not one here); "
            "for scripts use the commands, e.g. `deliverycli orders list --json` or `deliverycli events tail --follow`"
        )
    terminal_settings()
    from .app import DeliveryApp  # Textual loads only here: the rest of the CLI starts without it

    app = DeliveryApp(settings, role=role, actor=actor, readonly=readonly)
    app.run()
    if app.failure is not None:
        raise app.failure


def terminal_settings() -> None:
    """What Textual reads from the environment when it loads: a short Esc delay, unless the user set one."""
    os.environ.setdefault("ESCDELAY", ESCAPE_DELAY_MS)
