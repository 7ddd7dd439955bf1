"""events: the event log (the notification log of every context), optionally followed live."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer

from ..cli import ctx_obj
from ..output import print_text

app = typer.Typer(help="The event log: every stored event, in order.", no_args_is_help=True)

POLL_INTERVAL_S = 0.1
BATCH = 500


def _line(event: Any) -> str:
    from .status import local_time

    return f"{local_time(event.occurred_at.isoformat())}  #{event.id:<7} {event.order_id:<12} {event.event_type:<28} {event.actor}"


def _write(json_mode: bool, event: Any) -> None:
    text = json.dumps(event.as_dict(), ensure_ascii=False, default=str) if json_mode else _line(event)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@app.command("tail")
def tail(
    ctx: typer.Context,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events as any process commits them (Ctrl+C stops)."),
    order: str = typer.Option(None, "--order", metavar="ORDER", help="Only events of this order."),
    limit: int = typer.Option(20, "--limit", "-n", min=0, max=100_000, metavar="N", help="How many of the newest events to print first."),
) -> None:
    """Print the newest events, oldest first. JSON lines with --json; with --follow it keeps printing new ones."""
    cli = ctx_obj(ctx)
    engine = cli.engine(catch_up=False)
    if order is not None:
        engine.order(order)  # an unknown order is an error (exit 3), not an empty stream
    head = engine.head()  # read before the newest events, so nothing committed in between is skipped
    try:
        last_id = head
        backlog = engine.latest_events(limit, order) if limit else []
        for event in backlog:
            _write(cli.json, event)
            last_id = max(last_id, event.id)
        if not backlog and not follow and not cli.json:
            print_text(f"no events for order {order}" if order else "no events yet")
        while follow:
            batch = engine.events(after=last_id, order_id=order, limit=BATCH)
            for event in batch:
                _write(cli.json, event)
                last_id = event.id
            if len(batch) < BATCH:
                time.sleep(POLL_INTERVAL_S)
    except KeyboardInterrupt:
        return
