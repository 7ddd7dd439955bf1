"""tui: the console (Textual): customer, store-owner and rider views, a live feed and an operations view."""

from __future__ import annotations

import os
import sys

import typer

from ..cli import CliContext, ctx_obj

ROLES = ("customer", "store", "rider", "ops", "feed")
# Textual reports Esc only after this long without a following byte (its default: 100 ms); a terminal
# sends an escape sequence's bytes together, so 25 ms still tells Esc from Alt+key or an arrow. Its
# Linux driver looks at the clock only when its 100 ms input poll returns, so Esc still waits for
# that poll; what 25 ms removes is the second poll that a 100 ms delay often just misses (measured in
# tmux: p90 187 ms, was 256). Terminals with the kitty keyboard protocol report Esc at once.
ESCAPE_DELAY_MS = "25"


def command(
    ctx: typer.Context,
    role: str = typer.Option(None, "--role", help="Open this view: customer, store, rider, ops (or feed); without it, a role picker."),
    actor: str = typer.Option(None, "--as", help="Who you are in that role: a customer, store or rider id.", show_default=False),
    readonly: bool = typer.Option(False, "--readonly", help="Watch only: no commands, and no catching up of other processes' work."),
) -> None:
    """Open the console: customer, store-owner and rider views, a live feed and an operations view."""
    launch(ctx_obj(ctx), role, actor, readonly)


def launch(cli: CliContext, role: str | None = None, actor: str | None = None, readonly: bool = False) -> None:
    """Run the console until it quits; a failure to open it is raised as the domain error it is."""
    from ..engine.errors import InvalidInput

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
    from ..app import DeliveryApp  # Textual loads only here: the rest of the CLI starts without it

    app = DeliveryApp(cli.settings, role=role, actor=actor, readonly=readonly)  # settings load in the app's worker
    app.run()
    if app.failure is not None:
        raise app.failure


def terminal_settings() -> None:
    """What Textual reads from the environment when it loads: a short Esc delay, unless the user set one."""
    os.environ.setdefault("ESCDELAY", ESCAPE_DELAY_MS)
