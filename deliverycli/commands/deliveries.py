"""deliveries: the delivery list and rider actions: list, pickup, complete (the /deliveries route)."""

from __future__ import annotations

from typing import Any

import typer

from ..cli import ctx_obj, whole_number
from ..output import Column, emit, jsonable, print_fields, print_table

app = typer.Typer(help="The delivery list: list, upcoming, pick up, complete.", no_args_is_help=True)

# On a narrow console the times go first (picked up, then completed, then requested); ids and statuses stay.
DELIVERY_COLUMNS = [
    Column("id", "Order"),
    Column("status", "Status"),
    Column("store_id", "Store"),
    Column("address", "Address", wrap=True),
    Column("rider_id", "Rider"),
    Column("requested_at", "Requested", drop=1),
    Column("picked_up_at", "Picked up", drop=3),
    Column("completed_at", "Completed", drop=2),
]


@app.command("list")
def list_(
    ctx: typer.Context,
    available: bool = typer.Option(False, "--available", help="Only deliveries waiting for a rider."),
    rider: str = typer.Option(None, "--rider", metavar="RIDER", help="Only this rider's deliveries."),
    limit: int = typer.Option(200, "--limit", parser=whole_number(1, 10_000), metavar="N", help="At most this many, newest first."),
) -> None:
    """List deliveries, newest first."""
    from ..engine.errors import InvalidInput
    from .status import local_time

    cli = ctx_obj(ctx)
    if available and rider is not None:
        raise InvalidInput("use either --available or --rider RIDER, not both")
    deliveries = jsonable(cli.engine(catch_up=False).deliveries.list(available, rider, limit))

    def human() -> None:
        rows = [d | {k: local_time(d[k]) for k in ("requested_at", "picked_up_at", "completed_at")} for d in deliveries]
        empty = "no deliveries waiting for a rider" if available else (f"no deliveries for rider {rider}" if rider else "no deliveries")
        print_table(rows, DELIVERY_COLUMNS, empty=empty)

    emit(cli.json, deliveries, human)


def _show(delivery: dict[str, Any], title: str) -> None:
    print_fields(delivery, [("id", "order"), ("status", "delivery"), ("rider_id", "rider")], title=title)


@app.command("pickup")
def pickup(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER", help="The order's id, e.g. ord-000042."), rider: str = typer.Option(..., "--rider", metavar="RIDER", help="The rider's id.")) -> None:
    """Pick up a ready order and start delivering it. Of two riders, the first wins."""
    cli = ctx_obj(ctx)
    delivery = jsonable(cli.engine().deliveries.pick_up(order_id, rider))
    emit(cli.json, delivery, lambda: _show(delivery, f"Order {delivery['id']} picked up by {delivery['rider_id']}"))


@app.command("complete")
def complete(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER", help="The order's id, e.g. ord-000042."), rider: str = typer.Option(..., "--rider", metavar="RIDER", help="The rider's id.")) -> None:
    """Mark a delivery you picked up as delivered."""
    cli = ctx_obj(ctx)
    delivery = jsonable(cli.engine().deliveries.complete(order_id, rider))
    emit(cli.json, delivery, lambda: _show(delivery, f"Order {delivery['id']} delivered by {delivery['rider_id']}"))


UPCOMING_COLUMNS = [Column("id", "Order"), Column("store_id", "Store"), Column("ready_text", "Ready around"), Column("placed_text", "Placed", drop=1)]


@app.command("upcoming")
def upcoming(
    ctx: typer.Context,
    limit: int = typer.Option(100, "--limit", parser=whole_number(1, 10_000), metavar="N", help="At most this many, soonest ready first."),
) -> None:
    """Show orders still cooking and when each will be ready.

    That is when to come to the store."""
    from .status import hour_minute, local_time

    cli = ctx_obj(ctx)
    orders = jsonable(cli.engine(catch_up=False).deliveries.upcoming(limit))

    def human() -> None:
        rows = [o | {"ready_text": hour_minute(o.get("ready_at")) or "-", "placed_text": local_time(o["placed_at"])} for o in orders]
        print_table(rows, UPCOMING_COLUMNS, empty="nothing is being cooked right now")

    emit(cli.json, orders, human)
