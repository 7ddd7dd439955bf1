"""config: the settings in effect and where each came from (the ConfigMap of the seed)."""

from __future__ import annotations

from typing import Any

import typer

from ..cli import ctx_obj
from ..output import Column, emit, print_table

app = typer.Typer(help="Show the settings in effect and where each came from.", no_args_is_help=True)

SETTING_COLUMNS = [Column("id", "Setting"), Column("value_text", "Value", wrap=True), Column("source_text", "From")]


def _hide_password(value: Any) -> Any:
    """A database URL's password never appears in output."""
    if isinstance(value, str) and "://" in value:
        from sqlalchemy.engine import make_url

        try:
            url = make_url(value)
        except Exception:  # noqa: BLE001 - not a URL after all
            return value
        if url.password is not None:
            return url.render_as_string(hide_password=True)
    return value


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Each setting, its value and where it came from. The sources are the command line, environment, file or default."""
    from ..settings import config_path, describe_settings

    cli = ctx_obj(ctx)
    settings = cli.settings()
    cli_given = {"db"} if cli.db is not None else set()
    try:
        rows = describe_settings(settings, cli_given)
    except Exception as exc:  # noqa: BLE001 - the file was readable a moment ago; say what happened
        from ..engine.errors import InvalidInput

        raise InvalidInput(f"cannot read settings file {config_path()}: {exc}") from None
    for row in rows:
        row["value"] = _hide_password(row["value"])
    path = config_path()
    data = {"id": "config", "file": str(path), "file_exists": path.exists(), "settings": rows}

    def human() -> None:
        typer.echo(f"Settings file: {path}" + ("" if path.exists() else " (not present; defaults apply)"))
        typer.echo("Precedence: command line > environment (DELIVERYCLI_*) > file > default")
        # the file's path is printed above; `--json` also gives each setting's description
        shown = [r | {"value_text": str(r["value"]), "source_text": "file" if r["source"].startswith("file") else r["source"]} for r in rows]
        print_table(shown, SETTING_COLUMNS)

    emit(cli.json, data, human)
