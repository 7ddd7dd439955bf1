"""Create the database, or upgrade it in place; --demo adds demo stores, menus, customers and riders."""

from __future__ import annotations

import shlex
from typing import Any

import typer

from ..cli import ctx_obj
from ..output import emit, jsonable

DEMO_LABELS = (("stores", "stores"), ("menu_items", "menu items"), ("customers", "customers"), ("riders", "riders"))


def _db_option(db: str | None) -> str:
    """The `--db ...` to repeat in suggested commands: what the user typed, a password hidden."""
    if db is None:
        return ""
    from sqlalchemy.engine import make_url

    shown = db
    if "://" in db:
        try:
            url = make_url(db)
            if url.password is not None:
                shown = url.render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - already validated by the engine; show as typed
            pass
    return f" --db {shlex.quote(shown)}"


def _next_steps(db: str | None, demo: bool) -> list[str]:
    prefix = "deliverycli" + _db_option(db)
    if demo:
        return [
            f"{prefix} stores list",
            f"{prefix} menus list --store pizza-palace",
            f"{prefix} orders place --customer alice --store pizza-palace --item margherita:2 --address '101 Maple Rd, apt 4'",
            f"{prefix} doctor",
        ]
    return [
        f"{prefix} stores add --id my-store --name 'My Store' --address '1 Main St'",
        f"{prefix} menus add --store my-store --id my-dish --name 'My dish' --price 12000",
        f"{prefix} init --demo    (or add the demo stores, menus, customers and riders)",
        f"{prefix} doctor",
    ]


def _print(report: dict[str, Any]) -> None:
    where = report.get("path") or report["database"]
    if report["created"]:
        typer.echo(f"Database initialised at {where} (schema revision {report['schema']}).")
    elif report["upgraded"]:
        typer.echo(f"Database at {where} upgraded in place from schema revision {report['schema_before']} to {report['schema']}.")
    else:
        typer.echo(f"Database at {where} is already at schema revision {report['schema']}; nothing to upgrade.")
    demo = report["demo"]
    if demo is not None:
        added = [f"{demo[key]} {label}" for key, label in DEMO_LABELS if demo.get(key)]
        if added:
            typer.echo("Demo data added: " + ", ".join(added) + ".")
        else:
            typer.echo("Demo data is already there; nothing was added.")
    typer.echo("Try next:")
    for line in report["next"]:
        typer.echo(f"  {line}")


def command(
    ctx: typer.Context,
    demo: bool = typer.Option(False, "--demo", help="Also add the demo stores, menus, customers and riders (only those missing)."),
) -> None:
    """Create the database, or upgrade it in place. --demo also adds demo stores, menus, customers and riders."""
    from pathlib import Path

    from ..engine import storage
    from ..engine.bootstrap import Engine
    from ..engine.errors import DatabaseUnavailable, InvalidInput

    cli = ctx_obj(ctx)
    settings = cli.settings()
    url = storage.database_url(settings.db)
    if url.get_backend_name() == "sqlite" and Path(url.database).is_dir():
        raise InvalidInput(f"--db {url.database} is a folder; give a file path, e.g. {Path(url.database) / 'deliverycli.db'}")
    try:
        engine, info = Engine.initialise(settings, demo=demo)
    except OSError as exc:  # the file or its folder cannot be created
        where = f" ({exc.filename})" if exc.filename else ""
        raise DatabaseUnavailable(f"cannot create the database at {url.database}: {exc.strerror or exc}{where}") from None
    engine.close()
    report = jsonable(info)
    report["backend"] = url.get_backend_name()
    report["path"] = url.database if report["backend"] == "sqlite" else None
    report["created"] = info.schema_before is None
    report["upgraded"] = info.schema_before is not None and info.schema_before != info.schema_
    report["next"] = _next_steps(cli.db, demo)
    emit(cli.json, report, lambda: _print(report))
