"""deadletters: events a subscriber could not handle after its retries, parked for an operator (SPEC §6)."""

from __future__ import annotations

from typing import Any

import typer

from ..cli import ctx_obj, whole_number
from ..output import emit, jsonable, print_fields

app = typer.Typer(help="See and retry dead letters: events a handler gave up on.", no_args_is_help=True)


def _when(iso: str | None) -> str:
    """An ISO timestamp shortened to the second (UTC)."""
    return iso[:19].replace("T", " ") + " UTC" if iso else "-"


def _print_letters(rows: list[dict[str, Any]], all_: bool) -> None:
    """One block per dead letter: errors are long, a table would squeeze them."""
    if not rows:
        typer.echo("no dead letters" if all_ else "no dead letters waiting")
        return
    for row in rows:
        state = f"resolved {_when(row['resolved_at'])}" if row["resolved_at"] else "waiting"
        typer.echo(f"dead letter {row['id']} ({state}): subscriber {row['subscriber']} could not handle {row['event_type']} (event {row['event_id']}, order {row['order_id']})")
        typer.echo(f"  parked {_when(row['parked_at'])} after {row['attempts']} attempt(s)")
        typer.echo(f"  error  {row['error']}")
    if any(r["resolved_at"] is None for r in rows):
        typer.echo("Retry one with `deliverycli deadletters retry ID` once its cause is fixed.")


@app.command("list")
def list_(ctx: typer.Context, all_: bool = typer.Option(False, "--all", help="Also those already retried successfully.")) -> None:
    """List the dead letters waiting for an operator. With --all, also the resolved ones."""
    cli = ctx_obj(ctx)
    rows = jsonable(cli.engine(catch_up=False).ops.dead_letters(include_resolved=all_))
    emit(cli.json, rows, lambda: _print_letters(rows, all_))


@app.command("retry")
def retry(ctx: typer.Context, dead_letter_id: int = typer.Argument(..., metavar="ID", parser=whole_number(min=1), help="The dead letter's id (see `deadletters list`).")) -> None:
    """Run a parked event through its subscriber again. On success it is marked resolved."""
    cli = ctx_obj(ctx)
    row = jsonable(cli.engine().ops.retry_dead_letter(dead_letter_id))
    emit(
        cli.json,
        row,
        lambda: print_fields(
            row,
            [("id", "dead letter"), ("subscriber", "subscriber"), ("event_type", "event"), ("event_id", "event id"), ("order_id", "order"), ("resolved_at", "resolved")],
            title=f"Dead letter {row['id']} retried: {row['subscriber']} handled {row['event_type']}",
        ),
    )
