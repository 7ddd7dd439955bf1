"""tui: the console (Textual): customer, store-owner and rider views, a live feed and an operations view."""

from __future__ import annotations

import typer

from ..cli import CliContext, ctx_obj

ROLES = ("customer", "store", "rider", "ops", "feed")


def command(
    ctx: typer.Context,
    role: str = typer.Option(None, "--role", metavar="ROLE", help="Open this view: customer, store, rider, ops (or feed); without it, a role picker."),
    actor: str = typer.Option(None, "--as", metavar="ID", help="Who you are in that role: a customer, store or rider id.", show_default=False),
    readonly: bool = typer.Option(False, "--readonly", help="Watch only: no commands, and no catching up of other processes' work."),
) -> None:
    """Open the console: customer, store, rider and ops views. It also has a live feed of every status change."""
    launch(ctx_obj(ctx), role, actor, readonly)


def launch(cli: CliContext, role: str | None = None, actor: str | None = None, readonly: bool = False) -> None:
    """Run the console until it quits; a failure to open it is raised as the domain error it is."""
    from ..engine.errors import InvalidInput

    if role is not None and role not in ROLES:
        raise InvalidInput(f"--role {role!r} is not valid; use one of: {', '.join(ROLES)}")
    if actor is not None and role not in ("customer", "store", "rider"):
        raise InvalidInput("--as needs --role customer, store or rider")
    from ..app import DeliveryApp  # Textual loads only here: the rest of the CLI starts without it

    app = DeliveryApp(cli.settings, role=role, actor=actor, readonly=readonly)  # settings load in the app's worker
    app.run()
    if app.failure is not None:
        raise app.failure
