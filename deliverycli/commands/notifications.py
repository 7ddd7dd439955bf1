"""notifications: what customers, stores and riders were told, optionally followed live."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from ..cli import ctx_obj, until_interrupted, whole_number
from ..output import Column, emit, jsonable, print_table

app = typer.Typer(help="Notifications sent on every order status change.", no_args_is_help=True)

POLL_INTERVAL_S = 0.2
BATCH = 500

COLUMNS = [Column("id", "#", drop=2), Column("at", "At", drop=1), Column("recipient", "Recipient"), Column("order_id", "Order"), Column("status_text", "Status"), Column("message", "Message", wrap=True)]


def _human_row(n: dict[str, Any]) -> dict[str, Any]:
    from .status import local_time, with_glyph

    return n | {"at": local_time(n.get("created_at")), "status_text": with_glyph(n.get("status"))}


def _line(n: dict[str, Any]) -> str:
    row = _human_row(n)
    return f"{row['at']}  #{row['id']:<6} {row['recipient']:<22} {row['order_id']:<12} {row['status_text']:<18} {row['message']}"


def _write(json_mode: bool, n: dict[str, Any]) -> None:
    text = json.dumps(n, ensure_ascii=False, default=str) if json_mode else _line(n)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@app.command("list")
def list_(
    ctx: typer.Context,
    customer: str = typer.Option(None, "--customer", metavar="CUSTOMER", help="Only notifications to this customer."),
    store: str = typer.Option(None, "--store", metavar="STORE", help="Only notifications to this store."),
    rider: str = typer.Option(None, "--rider", metavar="RIDER", help="Only notifications to this rider."),
    limit: int = typer.Option(100, "--limit", parser=whole_number(1, 10_000), metavar="N", help="At most this many (the newest), oldest first."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new notifications as they are sent (Ctrl+C stops)."),
) -> None:
    """List notifications, oldest first. With --follow it keeps printing new ones (JSON lines with --json)."""
    from ..engine.errors import InvalidInput

    cli = ctx_obj(ctx)
    given = [(kind, who) for kind, who in (("customer", customer), ("store", store), ("rider", rider)) if who is not None]
    if len(given) > 1:
        raise InvalidInput("give at most one of --customer, --store and --rider")
    kind, who = given[0] if given else (None, None)
    engine = cli.engine(catch_up=False)
    existing = jsonable(engine.notifications.list(kind, who, 0, limit))
    if not follow:
        empty = f"no notifications for {kind} {who}" if kind else "no notifications"
        emit(cli.json, existing, lambda: print_table([_human_row(n) for n in existing], COLUMNS, empty=empty))
        return
    with until_interrupted() as stop:
        for n in existing:
            _write(cli.json, n)
        last_id = existing[-1]["id"] if existing else 0
        while not stop.is_set():
            batch = jsonable(engine.notifications.list(kind, who, last_id, BATCH))
            for n in batch:
                if n["id"] > last_id:
                    _write(cli.json, n)
                    last_id = n["id"]
            if len(batch) < BATCH:
                stop.wait(POLL_INTERVAL_S)
