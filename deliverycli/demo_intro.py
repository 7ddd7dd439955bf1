"""The welcome `make run` prints after `deliverycli --db DB init --demo`.

    python -m deliverycli.demo_intro DB_PATH

Shows where the demo database is, what is in it (read through the Engine API), and a list of
copy-pasteable CLI commands that walk one order through the whole story of SPEC §2.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def _same_dir(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _shown_path(path: str) -> str:
    """A path as the user's shell should type it: relative when the shell is here, else absolute.

    `make -C elsewhere run` changes our directory but not the shell's ($PWD keeps the shell's)."""
    if "://" in path:
        return path
    absolute = os.path.abspath(path)
    here = os.getcwd()
    if _same_dir(os.environ.get("PWD", here), here):
        relative = os.path.relpath(absolute, here)
        if not relative.startswith(".."):
            return relative
    return absolute


def cli_command() -> str:
    """How to start the CLI that belongs to this interpreter (the venv's console script if any)."""
    script = Path(sys.executable).parent / "deliverycli"
    if script.exists():
        return shlex.quote(_shown_path(str(script)))
    if shutil.which("deliverycli"):
        return "deliverycli"
    return f"{shlex.quote(sys.executable)} -m deliverycli"


def _next_order_id(orders: list[dict[str, Any]]) -> str:
    numbers = [int(o["id"].rsplit("-", 1)[1]) for o in orders if o["id"].rsplit("-", 1)[-1].isdigit()]
    return f"ord-{max(numbers, default=0) + 1:06d}"


def suggestions(cli: str, order: str) -> list[tuple[str, str]]:
    """(what it does, the command line) pairs; `cli` already carries `--db`."""
    return [
        ("browse stores and a menu", f"{cli} stores list"),
        ("", f"{cli} menus list --store pizza-palace"),
        (f"alice orders and pays (prints the new id, {order} unless someone else orders first)",
         f'{cli} orders place --customer alice --store pizza-palace --item margherita:2 --item cola --address "101 Maple Rd"'),
        ("the store's order list", f"{cli} store queue --store pizza-palace"),
        ("the store starts cooking, then finishes", f"{cli} store accept {order} --store pizza-palace"),
        ("", f"{cli} store ready {order} --store pizza-palace"),
        ("what a rider sees, then picks up and delivers", f"{cli} deliveries list --available"),
        ("", f"{cli} deliveries pickup {order} --rider rider-kim"),
        ("", f"{cli} deliveries complete {order} --rider rider-kim"),
        ("alice confirms it arrived", f"{cli} orders confirm {order} --customer alice"),
        ("the status and its timeline, at any time", f"{cli} status {order}"),
        ("alice's notifications, one per status change", f"{cli} notifications list --customer alice"),
        ("the live event stream (run it in a second terminal first)", f"{cli} events tail --follow"),
        ("health: lag, dead letters, payment breaker", f"{cli} doctor"),
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    console = Console(highlight=False, soft_wrap=True)  # commands must stay one line each
    if len(args) != 1 or args[0].startswith("-"):
        console.print("usage: python -m deliverycli.demo_intro DB_PATH", markup=False)
        return 2
    db = args[0]

    from .engine.errors import DeliveryError
    from .engine.bootstrap import open_engine
    from .output import jsonable

    try:
        with open_engine(db) as engine:
            stores = jsonable(engine.catalog.stores())
            menu = jsonable(engine.catalog.menu())
            customers = jsonable(engine.catalog.customers())
            riders = jsonable(engine.catalog.riders())
            orders = jsonable(engine.orders.list(limit=10_000))
    except DeliveryError as exc:
        console.print(f"cannot read the demo database {db}: {exc.message}", markup=False)
        console.print(f"create it with: {cli_command()} --db {shlex.quote(_shown_path(db))} init --demo", markup=False)
        return 1

    shown_db = _shown_path(db)
    cli = f"{cli_command()} --db {shlex.quote(shown_db)}"
    currency = "KRW"

    console.print()
    console.print("[bold]deliverycli demo[/bold] - a food order-and-delivery operations console")
    console.print(f"Demo database: [cyan]{os.path.abspath(db) if '://' not in db else db}[/cyan]")
    by_status = Counter(o["status"] for o in orders)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "none yet"
    console.print(
        f"It holds {len(stores)} stores, {len(menu)} menu items, {len(customers)} customers, "
        f"{len(riders)} riders; orders: {summary}."
    )

    table = Table(title=None, show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("store")
    table.add_column("menu (id price)")
    items_by_store: dict[str, list[str]] = {}
    for item in menu:
        items_by_store.setdefault(item["store_id"], []).append(f"{item['id']} {item['price']:,}")
    for store in stores:
        table.add_row(f"{store['id']}", ", ".join(items_by_store.get(store["id"], [])) or "-")
    console.print(table)
    console.print(f"Prices in {currency}.", style="dim")
    console.print(f"Customers: {', '.join(c['id'] for c in customers)}")
    console.print(f"Riders:    {', '.join(r['id'] for r in riders)}")

    console.print()
    console.print("[bold]Try next[/bold] (each line works as written; add --json for machine-readable output):")
    for what, command in suggestions(cli, _next_order_id(orders)):
        if what:
            console.print(f"# {what}", style="dim", markup=False)
        console.print(command, markup=False)
    console.print()
    console.print("Test cards for --card: 4242424242424242 approves (default), 4000000000000002 declines, 4000000000000119 fails.", markup=False)
    console.print(f"All options: {cli_command()} --help", markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
