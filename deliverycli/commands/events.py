"""events: the event log (the notification log of every context), optionally followed live."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from ..cli import ctx_obj, until_interrupted, whole_number
from ..output import jsonable, print_text

app = typer.Typer(help="The event log: every stored event, in order.", no_args_is_help=True)

POLL_INTERVAL_S = 0.1
BATCH = 500


def _line(event: Any) -> str:
    from .status import local_time

    return f"{local_time(event.occurred_at.isoformat())}  #{event.id:<7} {event.order_id:<12} {event.event_type:<28} {event.actor}"


def _write(json_mode: bool, event: Any) -> None:
    text = json.dumps(jsonable(event), ensure_ascii=False) if json_mode else _line(event)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _print_backlog(json_mode: bool, engine: Any, limit: int, order: str | None, head: int, *, say_if_none: bool = True) -> int:
    """The newest ``limit`` events; returns the id to follow from."""
    last_id = head
    backlog = engine.events.latest(limit, order) if limit else []
    for event in backlog:
        _write(json_mode, event)
        last_id = max(last_id, event.id)
    if not backlog and say_if_none and not json_mode:
        print_text(f"no events for order {order}" if order else "no events yet")
    return last_id


@app.command("tail")
def tail(
    ctx: typer.Context,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events as any process commits them (Ctrl+C stops)."),
    order: str = typer.Option(None, "--order", metavar="ORDER", help="Only events of this order."),
    limit: int = typer.Option(20, "--limit", "-n", parser=whole_number(0, 100_000), metavar="N", help="How many of the newest events to print first."),
) -> None:
    """Print the newest events, oldest first. JSON lines with --json; with --follow it keeps printing new ones."""
    cli = ctx_obj(ctx)
    engine = cli.engine(catch_up=False)
    if order is not None:
        engine.orders.get(order)  # an unknown order is an error (exit 3), not an empty stream
    head = engine.events.head()  # read before the newest events, so nothing committed in between is skipped
    if not follow:
        _print_backlog(cli.json, engine, limit, order, head)
        return
    with until_interrupted() as stop:
        last_id = _print_backlog(cli.json, engine, limit, order, head, say_if_none=False)
        while not stop.is_set():
            batch = engine.events.read(after=last_id, order_id=order, limit=BATCH)
            for event in batch:
                _write(cli.json, event)
                last_id = event.id
            if len(batch) < BATCH:
                stop.wait(POLL_INTERVAL_S)
