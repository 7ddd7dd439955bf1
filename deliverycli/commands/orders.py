"""orders: place, cancel, confirm, show and list orders (the /orders route)."""

from __future__ import annotations

from typing import Any

import typer

from ..cli import ctx_obj, whole_number
from ..output import emit, jsonable, money, print_fields, print_table

app = typer.Typer(help="Place, cancel, confirm, show and list orders.", no_args_is_help=True)

ORDER_COLUMNS = [("id", "Order"), ("status", "Status"), ("customer_id", "Customer"), ("store_id", "Store"), ("total_text", "Total"), ("placed_at", "Placed")]


def _with_money(order: dict[str, Any]) -> dict[str, Any]:
    return order | {"total_text": money(order["total"], order.get("currency", "KRW"))}


def show_order(order: dict[str, Any], title: str) -> None:
    order = _with_money(order)
    print_fields(order, [("id", "order"), ("status", "status"), ("customer_id", "customer"), ("store_id", "store"), ("total_text", "total"), ("address", "address"), ("reason", "reason")], title=title)
    for item in order.get("items", []):
        print_fields({"line": f"{item['quantity']} x {item['name']} ({item['menu_item_id']}) @ {money(item['unit_price'], order.get('currency', 'KRW'))}"}, [("line", "item")])


@app.command("place")
def place(
    ctx: typer.Context,
    customer: str = typer.Option(..., "--customer", help="Customer id."),
    store: str = typer.Option(..., "--store", help="Store id."),
    item: list[str] = typer.Option(..., "--item", help="MENU_ID[:QTY]; repeat for more items."),
    address: str = typer.Option(..., "--address", help="Delivery address."),
    card: str = typer.Option(None, "--card", help="Card number for the simulated gateway (default: an approving test card)."),
    idempotency_key: str = typer.Option(None, "--idempotency-key", help="Retrying with the same key returns the same order, charged once."),
) -> None:
    """Place an order and pay for it (synchronously)."""
    cli = ctx_obj(ctx)
    order = jsonable(cli.engine().orders.place(customer, store, item, address, card, idempotency_key))
    emit(cli.json, order, lambda: show_order(order, f"Order {order['id']} placed and paid"))


@app.command("cancel")
def cancel(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER"), customer: str = typer.Option(..., "--customer")) -> None:
    """Ask to cancel an order; the store decides, and a cancelled order is refunded."""
    cli = ctx_obj(ctx)
    order = jsonable(cli.engine().orders.cancel(order_id, customer))
    emit(cli.json, order, lambda: show_order(order, f"Order {order['id']} is {order['status']}"))


@app.command("confirm")
def confirm(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER"), customer: str = typer.Option(..., "--customer")) -> None:
    """Confirm that the delivery arrived."""
    cli = ctx_obj(ctx)
    order = jsonable(cli.engine().orders.confirm(order_id, customer))
    emit(cli.json, order, lambda: show_order(order, f"Order {order['id']} confirmed"))


@app.command("show")
def show(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER")) -> None:
    """Show one order with its items."""
    cli = ctx_obj(ctx)
    order = jsonable(cli.engine(catch_up=False).orders.get(order_id))
    emit(cli.json, order, lambda: show_order(order, f"Order {order['id']}"))


@app.command("list")
def list_(
    ctx: typer.Context,
    customer: str = typer.Option(None, "--customer"),
    store: str = typer.Option(None, "--store"),
    status: str = typer.Option(None, "--status", help="Only orders in this status, e.g. COOKING."),
    limit: int = typer.Option(50, "--limit", parser=whole_number(1, 10_000)),
    offset: int = typer.Option(0, "--offset", parser=whole_number(min=0)),
) -> None:
    """List orders, newest first (from the status view)."""
    cli = ctx_obj(ctx)
    orders = jsonable(cli.engine(catch_up=False).orders.list(customer, store, status, limit, offset))
    emit(cli.json, orders, lambda: print_table([_with_money(o) for o in orders], ORDER_COLUMNS, empty="no orders"))
