"""stores, customers, riders, menus: the reference data every context reads (the /menus route)."""

from __future__ import annotations

from typing import Any

import typer

from ..cli import ctx_obj, whole_number
from ..output import Column, emit, jsonable, money, print_fields, print_table

stores_app = typer.Typer(help="List and add stores.", no_args_is_help=True)
customers_app = typer.Typer(help="List and add customers.", no_args_is_help=True)
riders_app = typer.Typer(help="List and add riders.", no_args_is_help=True)
menus_app = typer.Typer(help="List and add menu items; sell them out.", no_args_is_help=True)

STORE_COLUMNS = [
    Column("id", "Store"), Column("name", "Name", wrap=True), Column("address", "Address", wrap=True), Column("prep_text", "Prep", drop=1),
    Column("state", "Taking orders", wrap=True),
]
CUSTOMER_COLUMNS = [Column("id", "Customer"), Column("name", "Name", wrap=True), Column("address", "Address", wrap=True)]
RIDER_COLUMNS = [Column("id", "Rider"), Column("name", "Name", wrap=True), Column("vehicle", "Vehicle", wrap=True)]
MENU_COLUMNS = [Column("store_id", "Store"), Column("id", "Item"), Column("name", "Name", wrap=True), Column("price_text", "Price"), Column("available_text", "Available")]


def _menu_rows(items: list[dict[str, Any]], currency: str) -> list[dict[str, Any]]:
    return [item | {"currency": currency} for item in items]


def _with_money(item: dict[str, Any]) -> dict[str, Any]:
    return item | {"price_text": money(item["price"], item["currency"]), "available_text": "yes" if item["available"] else "sold out"}


# -- stores -------------------------------------------------------------------------------------


@stores_app.command("list")
def stores_list(ctx: typer.Context) -> None:
    """List the stores."""
    cli = ctx_obj(ctx)
    rows = jsonable(cli.engine(catch_up=False).catalog.stores())
    emit(cli.json, rows, lambda: print_table([_store_row(r) for r in rows], STORE_COLUMNS, empty="no stores; add one with `deliverycli stores add` or run `deliverycli init --demo`"))


def _store_row(row: dict[str, Any]) -> dict[str, Any]:
    paused = f"no: {row['pause_reason']}" if row.get("pause_reason") else "no (paused)"
    return row | {"prep_text": f"{row['prep_min']} min", "state": paused if row.get("paused") else "yes"}


@stores_app.command("add")
def stores_add(
    ctx: typer.Context,
    id: str = typer.Option(..., "--id", metavar="ID", help="Store id: lowercase letters, digits, '-' or '_'."),
    name: str = typer.Option(..., "--name", metavar="TEXT", help="Display name."),
    address: str = typer.Option(..., "--address", metavar="TEXT", help="Street address."),
    prep_min: int = typer.Option(15, "--prep-min", parser=whole_number(1, 240), metavar="MINUTES", help="Its usual preparation time (accepting without one uses it)."),
) -> None:
    """Add a store (then give it a menu with `menus add --store ID`)."""
    cli = ctx_obj(ctx)
    row = jsonable(cli.engine().catalog.add_store(id, name, address, prep_min))
    emit(cli.json, row, lambda: print_fields(_store_row(row), [("id", "store"), ("name", "name"), ("address", "address"), ("prep_text", "preparation")], title=f"Store {row['id']} added"))


# -- customers ----------------------------------------------------------------------------------


@customers_app.command("list")
def customers_list(ctx: typer.Context) -> None:
    """List the customers."""
    cli = ctx_obj(ctx)
    rows = jsonable(cli.engine(catch_up=False).catalog.customers())
    emit(cli.json, rows, lambda: print_table(rows, CUSTOMER_COLUMNS, empty="no customers; add one with `deliverycli customers add`"))


@customers_app.command("add")
def customers_add(
    ctx: typer.Context,
    id: str = typer.Option(..., "--id", metavar="ID", help="Customer id: lowercase letters, digits, '-' or '_'."),
    name: str = typer.Option(..., "--name", metavar="TEXT", help="Full name."),
    address: str = typer.Option(..., "--address", metavar="TEXT", help="Default delivery address."),
) -> None:
    """Add a customer."""
    cli = ctx_obj(ctx)
    row = jsonable(cli.engine().catalog.add_customer(id, name, address))
    emit(cli.json, row, lambda: print_fields(row, [("id", "customer"), ("name", "name"), ("address", "address")], title=f"Customer {row['id']} added"))


# -- riders -------------------------------------------------------------------------------------


@riders_app.command("list")
def riders_list(ctx: typer.Context) -> None:
    """List the riders."""
    cli = ctx_obj(ctx)
    rows = jsonable(cli.engine(catch_up=False).catalog.riders())
    emit(cli.json, rows, lambda: print_table(rows, RIDER_COLUMNS, empty="no riders; add one with `deliverycli riders add`"))


@riders_app.command("add")
def riders_add(
    ctx: typer.Context,
    id: str = typer.Option(..., "--id", metavar="ID", help="Rider id: lowercase letters, digits, '-' or '_'."),
    name: str = typer.Option(..., "--name", metavar="TEXT", help="Full name."),
    vehicle: str = typer.Option("scooter", "--vehicle", metavar="TEXT", help="scooter, bicycle, car, ..."),
) -> None:
    """Add a rider."""
    cli = ctx_obj(ctx)
    row = jsonable(cli.engine().catalog.add_rider(id, name, vehicle))
    emit(cli.json, row, lambda: print_fields(row, [("id", "rider"), ("name", "name"), ("vehicle", "vehicle")], title=f"Rider {row['id']} added"))


# -- menus --------------------------------------------------------------------------------------


@menus_app.command("list")
def menus_list(ctx: typer.Context, store: str = typer.Option(None, "--store", metavar="STORE", help="Only this store's menu.")) -> None:
    """List menu items (prices in integer minor units; KRW has none)."""
    cli = ctx_obj(ctx)
    engine = cli.engine(catch_up=False)
    rows = _menu_rows(jsonable(engine.catalog.menu(store)), engine.settings.currency)
    emit(cli.json, rows, lambda: print_table([_with_money(r) for r in rows], MENU_COLUMNS, empty="no menu items"))


@menus_app.command("add")
def menus_add(
    ctx: typer.Context,
    store: str = typer.Option(..., "--store", metavar="STORE", help="The store whose menu gets the item."),
    id: str = typer.Option(..., "--id", metavar="ID", help="Menu item id (unique across stores): lowercase letters, digits, '-' or '_'."),
    name: str = typer.Option(..., "--name", metavar="TEXT", help="Display name."),
    price: int = typer.Option(..., "--price", parser=whole_number(), metavar="AMOUNT", help="Price in integer minor units (KRW has none: 18000 is 18,000 KRW)."),
) -> None:
    """Add an item to a store's menu."""
    cli = ctx_obj(ctx)
    engine = cli.engine()
    row = _menu_rows([jsonable(engine.catalog.add_menu_item(store, id, name, price))], engine.settings.currency)[0]
    emit(
        cli.json,
        row,
        lambda: print_fields(_with_money(row), [("id", "item"), ("store_id", "store"), ("name", "name"), ("price_text", "price")], title=f"Menu item {row['id']} added"),
    )


def _set_available(ctx: typer.Context, item: str, store: str, available: bool) -> None:
    cli = ctx_obj(ctx)
    engine = cli.engine()
    change = engine.catalog.available if available else engine.catalog.sold_out
    row = _menu_rows([jsonable(change(item, store))], engine.settings.currency)[0]
    title = f"{row['name']} ({row['id']}) is {'available again' if available else 'sold out: ordering it is refused'}"
    emit(cli.json, row, lambda: print_fields(_with_money(row), [("id", "item"), ("store_id", "store"), ("name", "name"), ("available_text", "available")], title=title))


@menus_app.command("sold-out")
def menus_sold_out(
    ctx: typer.Context,
    item: str = typer.Argument(..., metavar="ITEM", help="The menu item's id, e.g. margherita."),
    store: str = typer.Option(..., "--store", metavar="STORE", help="The store that sells it."),
) -> None:
    """Mark a menu item sold out.

    Customers see it, and ordering it is refused until `menus available`."""
    _set_available(ctx, item, store, False)


@menus_app.command("available")
def menus_available(
    ctx: typer.Context,
    item: str = typer.Argument(..., metavar="ITEM", help="The menu item's id, e.g. margherita."),
    store: str = typer.Option(..., "--store", metavar="STORE", help="The store that sells it."),
) -> None:
    """Mark a sold-out menu item available again."""
    _set_available(ctx, item, store, True)
