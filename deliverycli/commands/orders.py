"""orders: place, cancel, confirm, show and list orders (the /orders route)."""

from __future__ import annotations

from typing import Any

import typer

from ..cli import ctx_obj, whole_number
from ..output import Column, emit, jsonable, money, print_fields, print_table

app = typer.Typer(help="Place, cancel, confirm, show and list orders.", no_args_is_help=True)

ORDER_COLUMNS = [Column("id", "Order"), Column("status", "Status"), Column("customer_id", "Customer"), Column("store_id", "Store"), Column("total_text", "Total"), Column("placed_text", "Placed", drop=1)]


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
    customer: str = typer.Option(..., "--customer", metavar="CUSTOMER", help="The customer's id."),
    store: str = typer.Option(..., "--store", metavar="STORE", help="The store's id."),
    item: list[str] = typer.Option(..., "--item", metavar="MENU_ID[:QTY]", help="A menu item and how many (default 1), e.g. margherita:2; repeat for more items."),
    address: str = typer.Option(..., "--address", metavar="TEXT", help="Delivery address."),
    card: str = typer.Option(None, "--card", metavar="NUMBER", help="Card number for the simulated gateway (default: an approving test card)."),
    idempotency_key: str = typer.Option(None, "--idempotency-key", metavar="KEY", help="Retrying with the same key returns the same order, charged once."),
) -> None:
    """Place an order and pay for it (synchronously)."""
    cli = ctx_obj(ctx)
    order = jsonable(cli.engine().orders.place(customer, store, item, address, card, idempotency_key))
    emit(cli.json, order, lambda: show_order(order, f"Order {order['id']} placed and paid"))


@app.command("cancel")
def cancel(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER", help="The order's id, e.g. ord-000042."), customer: str = typer.Option(..., "--customer", metavar="CUSTOMER", help="The customer who placed the order.")) -> None:
    """Ask to cancel an order. The store decides; a cancelled order is refunded."""
    cli = ctx_obj(ctx)
    order = jsonable(cli.engine().orders.cancel(order_id, customer))
    emit(cli.json, order, lambda: show_order(order, f"Order {order['id']} is {order['status']}"))


@app.command("confirm")
def confirm(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER", help="The order's id, e.g. ord-000042."), customer: str = typer.Option(..., "--customer", metavar="CUSTOMER", help="The customer who placed the order.")) -> None:
    """Confirm that the delivery arrived."""
    cli = ctx_obj(ctx)
    order = jsonable(cli.engine().orders.confirm(order_id, customer))
    emit(cli.json, order, lambda: show_order(order, f"Order {order['id']} confirmed"))


@app.command("show")
def show(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER", help="The order's id, e.g. ord-000042.")) -> None:
    """Show one order with its items."""
    cli = ctx_obj(ctx)
    order = jsonable(cli.engine(catch_up=False).orders.get(order_id))
    emit(cli.json, order, lambda: show_order(order, f"Order {order['id']}"))


@app.command("list")
def list_(
    ctx: typer.Context,
    customer: str = typer.Option(None, "--customer", metavar="CUSTOMER", help="Only this customer's orders."),
    store: str = typer.Option(None, "--store", metavar="STORE", help="Only this store's orders."),
    status: str = typer.Option(None, "--status", metavar="STATUS", help="Only orders in this status, e.g. COOKING."),
    limit: int = typer.Option(50, "--limit", parser=whole_number(1, 10_000), metavar="N", help="At most this many orders (a page)."),
    offset: int = typer.Option(0, "--offset", parser=whole_number(min=0), metavar="N", help="Skip this many first (slower the further it goes: prefer --after)."),
    after: str = typer.Option(None, "--after", metavar="CURSOR", help="Start after this order: the cursor printed with the previous page (keyset pagination)."),
) -> None:
    """List orders, newest first, a page at a time.

    With --json each order carries its `cursor`; when more orders follow, the command tells (on
    stderr) the --after that lists them.
    """
    cli = ctx_obj(ctx)
    if after is not None and offset:
        from ..engine.errors import InvalidInput

        raise InvalidInput("use either --after or --offset, not both", field="after")
    engine = cli.engine(catch_up=False)
    if offset:
        orders = jsonable(engine.orders.list(customer, store, status, limit, offset))
        following = None
    else:
        from ..engine.status import cursor

        page = engine.orders.page(customer, store, status, limit, after)
        orders = [jsonable(o) | {"cursor": cursor(o)} for o in page.orders]
        following = page.next

    def human() -> None:
        from .status import local_time

        rows = [_with_money(o) | {"placed_text": local_time(o.get("placed_at"), with_date=True)} for o in orders]
        print_table(rows, ORDER_COLUMNS, empty="no orders")

    emit(cli.json, orders, human)
    if following is not None:
        typer.echo(f"more orders: add --after {following} for the next page", err=True)
