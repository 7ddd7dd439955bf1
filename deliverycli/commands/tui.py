"""tui: the console (Textual): customer, store-owner and rider views, a live feed and an operations view."""

from __future__ import annotations

import typer

from ..cli import ctx_obj
from ..console import launch


def command(
    ctx: typer.Context,
    role: str = typer.Option(None, "--role", metavar="ROLE", help="Open this view: customer, store, rider, ops (or feed); without it, a role picker."),
    actor: str = typer.Option(None, "--as", metavar="ID", help="Who you are in that role: a customer, store or rider id.", show_default=False),
    readonly: bool = typer.Option(False, "--readonly", help="Watch only: no commands, and no catching up of other processes' work."),
) -> None:
    """Open the console: customer, store, rider and ops views. It also has a live feed of every status change."""
    launch(ctx_obj(ctx).settings, role, actor, readonly)
