"""store: the store owner's order list (kitchen tickets): queue, accept, reject, ready, pause, resume (the /store route)."""

from __future__ import annotations

from typing import Any

import typer

from ..cli import ctx_obj, whole_number
from ..output import Column, emit, jsonable, money, print_fields, print_table, print_text

app = typer.Typer(help="A store's orders: queue, accept, reject, ready, pause.", no_args_is_help=True)

# Ticket statuses in kitchen order, each with the title of its group in the human queue.
GROUP_TITLES = {
    "NEW": "New", "COOKING": "Cooking", "READY": "Ready (waiting for a rider)", "PICKED_UP": "Picked up", "DONE": "Done",
    "CANCELLED": "Cancelled", "REJECTED": "Rejected",
}
HANDED_OVER = ("PICKED_UP", "DONE")

QUEUE_COLUMNS = [Column("id", "Order"), Column("items_text", "Items", wrap=True), Column("total_text", "Total"), Column("address", "Address", wrap=True), Column("received_at", "Received", drop=1), Column("reason", "Reason", wrap=True)]


def _items_text(items: list[dict[str, Any]]) -> str:
    return ", ".join(f"{i.get('quantity', 1)} x {i.get('name') or i.get('menu_item_id')}" for i in items or [])


def _check_status(status: str | None) -> str | None:
    from ..engine.errors import InvalidInput

    if status is None:
        return None
    upper = status.strip().upper()
    if upper not in GROUP_TITLES:
        raise InvalidInput(f"unknown store order status {status!r}; one of: {', '.join(GROUP_TITLES)}")
    return upper


def _print_queue(store_id: str, tickets: list[dict[str, Any]], status: str | None, currency: str) -> None:
    from .status import hour_minute, local_time

    if not tickets and status is None:
        print_text(f"no orders for store {store_id}")
        return
    for key, title in GROUP_TITLES.items():
        if status is not None and key != status:
            continue
        rows = [
            t | {"items_text": _items_text(t.get("items", [])), "total_text": money(t["total"], currency), "received_at": local_time(t["received_at"])}
            for t in tickets
            if t["status"] == key
        ]
        if not rows and status is None:
            continue
        columns = QUEUE_COLUMNS if key in ("CANCELLED", "REJECTED") else QUEUE_COLUMNS[:-1]
        if key == "COOKING":
            rows = [r | {"ready_text": hour_minute(r.get("ready_at"))} for r in rows]
            columns = [*columns, Column("ready_text", "ETA")]  # when it should be ready
        print_table(rows, columns, title=f"{title} ({len(rows)})", empty=f"{title}: none")


@app.command("queue")
def queue(
    ctx: typer.Context,
    store: str = typer.Option(..., "--store", metavar="STORE", help="The store's id."),
    status: str = typer.Option(
        None, "--status", metavar="STATUS", help="Only tickets in this status: NEW, COOKING, READY, PICKED_UP, DONE, CANCELLED or REJECTED."
    ),
    limit: int = typer.Option(200, "--limit", parser=whole_number(1, 10_000), metavar="N", help="At most this many tickets, newest first."),
    all_days: bool = typer.Option(False, "--all-days", help="Also the orders handed to a rider before today (PICKED_UP, DONE)."),
) -> None:
    """The store's order list, newest first. Human output is grouped New / Cooking / Ready (waiting for a
    rider) / Picked up / Done (today's) / Cancelled / Rejected."""
    cli = ctx_obj(ctx)
    status = _check_status(status)
    engine = cli.engine(catch_up=False)
    tickets = jsonable(engine.store.queue(store, status, limit, since=None if all_days else engine.store.today()))
    emit(cli.json, tickets, lambda: _print_queue(store, tickets, status, engine.settings.currency))


def _show_ticket(ticket: dict[str, Any], title: str) -> None:
    from .status import hour_minute

    shown = ticket | {"ready_text": hour_minute(ticket.get("ready_at"))}
    keys = [("id", "order"), ("store_id", "store"), ("status", "ticket"), ("ready_text", "ready around"), ("reason", "reason")]
    print_fields(shown, [k for k in keys if k[0] != "ready_text" or shown["ready_text"]], title=title)


@app.command("accept")
def accept(
    ctx: typer.Context,
    order_id: str = typer.Argument(..., metavar="ORDER", help="The order's id, e.g. ord-000042."),
    store: str = typer.Option(..., "--store", metavar="STORE", help="The store's id."),
    prep_min: int = typer.Option(
        None, "--prep-min", parser=whole_number(1, 240), metavar="MINUTES",
        help="How long cooking takes; the customer and riders see when it should be ready (default: the store's usual time).",
    ),
) -> None:
    """Accept an order: the kitchen starts cooking it."""
    cli = ctx_obj(ctx)
    ticket = jsonable(cli.engine().store.accept(order_id, store, prep_min))
    emit(cli.json, ticket, lambda: _show_ticket(ticket, f"Order {ticket['id']} accepted: cooking"))


@app.command("reject")
def reject(
    ctx: typer.Context,
    order_id: str = typer.Argument(..., metavar="ORDER", help="The order's id, e.g. ord-000042."),
    store: str = typer.Option(..., "--store", metavar="STORE", help="The store's id."),
    reason: str = typer.Option(..., "--reason", metavar="TEXT", help="Why the store rejects it (the customer is told; the order is refunded)."),
) -> None:
    """Reject a new order; it is cancelled and refunded."""
    cli = ctx_obj(ctx)
    ticket = jsonable(cli.engine().store.reject(order_id, store, reason))
    emit(cli.json, ticket, lambda: _show_ticket(ticket, f"Order {ticket['id']} rejected"))


@app.command("ready")
def ready(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER", help="The order's id, e.g. ord-000042."), store: str = typer.Option(..., "--store", metavar="STORE", help="The store's id.")) -> None:
    """Mark an order cooked: it goes on the delivery list for riders."""
    cli = ctx_obj(ctx)
    ticket = jsonable(cli.engine().store.ready(order_id, store))
    emit(cli.json, ticket, lambda: _show_ticket(ticket, f"Order {ticket['id']} is ready for pickup"))


def _show_store(row: dict[str, Any], title: str) -> None:
    shown = row | {"state": f"paused: {row['pause_reason']}" if row["paused"] and row.get("pause_reason") else "paused" if row["paused"] else "taking orders"}
    print_fields(shown, [("id", "store"), ("name", "name"), ("state", "state")], title=title)


@app.command("pause")
def pause(
    ctx: typer.Context,
    store: str = typer.Option(..., "--store", metavar="STORE", help="The store's id."),
    reason: str = typer.Option(None, "--reason", metavar="TEXT", help="Why, in the customer's words (shown when they try to order)."),
) -> None:
    """Stop taking orders until `store resume`.

    Ordering is refused with the reason; orders already in the kitchen go on."""
    cli = ctx_obj(ctx)
    row = jsonable(cli.engine().store.pause(store, reason))
    emit(cli.json, row, lambda: _show_store(row, f"{row['name']} is paused: no new orders"))


@app.command("resume")
def resume(ctx: typer.Context, store: str = typer.Option(..., "--store", metavar="STORE", help="The store's id.")) -> None:
    """Take orders again after `store pause`."""
    cli = ctx_obj(ctx)
    row = jsonable(cli.engine().store.resume(store))
    emit(cli.json, row, lambda: _show_store(row, f"{row['name']} is taking orders"))
