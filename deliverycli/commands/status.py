"""Show an order's status and timeline: the CQRS status view (the /statusChecks route)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from ..cli import ctx_obj
from ..output import Column, emit, jsonable, money, print_fields, print_table


def with_glyph(status: str | None) -> str:
    """A status as glyph plus text (never colour alone), e.g. ``♨ COOKING``."""
    from ..output import GLYPHS

    if not status:
        return "-"
    glyph = GLYPHS.get(status)  # OrderStatus is a StrEnum: a plain string finds its glyph
    return f"{glyph} {status}" if glyph else status


def local_time(value: str | None, with_date: bool = False) -> str | None:
    """An ISO timestamp as local wall-clock time (``HH:MM:SS``, or with the date)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value).astimezone()
    except (TypeError, ValueError):
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


DEADLINE_COLUMNS = [Column("kind", "Deadline"), Column("due_text", "Due"), Column("what", "Then")]
DEADLINE_WHAT = {
    "acceptance": "rejected and refunded unless the store accepts",
    "pickup": "the store and operations are alerted unless a rider picks it up",
    "confirm": "confirmed by the system unless the customer confirms",
}


def hour_minute(value: str | None) -> str | None:
    """An ISO timestamp as local ``HH:MM``: how people say an estimate."""
    return local_time(value)[:5] if value else None


def ready_around(view: dict[str, Any]) -> str | None:
    """"around 12:40" while the food is being cooked (the store's estimate), else None."""
    if not view.get("ready_at") or view.get("status") not in ("COOKING", "CANCEL_PENDING"):
        return None
    return f"around {hour_minute(view['ready_at'])}"


TIMELINE_COLUMNS = [Column("event_id", "#", drop=2), Column("at_text", "At"), Column("status_text", "Status"), Column("event", "Event"), Column("actor", "Actor", drop=1)]


def show_status(view: dict[str, Any]) -> None:
    fields = view | {
        "status_text": with_glyph(view["status"]),
        "total_text": money(view["total"], view.get("currency") or "KRW"),
        "placed_text": local_time(view.get("placed_at"), with_date=True),
        "updated_text": local_time(view.get("updated_at"), with_date=True),
        "ready_text": ready_around(view),
    }
    keys = [
        ("status_text", "status"), ("ready_text", "ready"), ("customer_id", "customer"), ("store_id", "store"), ("rider_id", "rider"),
        ("total_text", "total"), ("reason", "reason"), ("placed_text", "placed"), ("updated_text", "updated"),
    ]
    keys = [k for k in keys if k[0] != "ready_text" or fields["ready_text"]]
    print_fields(fields, keys, title=f"Order {view['id']}")
    rows = [t | {"at_text": local_time(t.get("at"), with_date=True), "status_text": with_glyph(t.get("status"))} for t in view.get("timeline", [])]
    print_table(rows, TIMELINE_COLUMNS, title="Timeline", empty="no timeline yet")
    deadlines = view.get("deadlines") or []
    if deadlines:
        due = [d | {"due_text": local_time(d.get("due_at"), with_date=True), "what": DEADLINE_WHAT.get(d["kind"], "")} for d in deadlines]
        print_table(due, DEADLINE_COLUMNS, title="Pending deadlines")


def command(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER", help="The order's id, e.g. ord-000042.")) -> None:
    """Show an order's status and its timeline of changes."""
    cli = ctx_obj(ctx)
    view = jsonable(cli.engine(catch_up=False).orders.status(order_id))
    emit(cli.json, view, lambda: show_status(view))
