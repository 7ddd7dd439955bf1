"""tokens: the bearer tokens the HTTP gateway (`serve`) accepts, one per customer, store, rider or operator."""

from __future__ import annotations

from typing import Any

import typer

from ..cli import ctx_obj
from ..output import emit, jsonable, print_fields, print_table

app = typer.Typer(help="Create, list and revoke API tokens for serve.", no_args_is_help=True)

TOKEN_COLUMNS = [("id", "Token id"), ("role", "Role"), ("actor_id", "Acts as"), ("created", "Created (UTC)"), ("revoked", "Revoked (UTC)")]
ROLE_HELP = "customer, store, rider or ops (operations: sees everything, acts as a customer only when placing for one)."


def _when(iso: str | None) -> str | None:
    return iso[:19].replace("T", " ") if iso else None


@app.command("create")
def create(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    actor: str = typer.Option(None, "--as", help="The customer, store or rider id the token acts as (not for ops)."),
) -> None:
    """Create a token and print it once.

    Only its hash is kept, so it cannot be shown again."""
    cli = ctx_obj(ctx)
    issued = jsonable(cli.engine(catch_up=False).tokens.create(role, actor))

    def human() -> None:  # the token alone on stdout, for `TOKEN=$(deliverycli tokens create ...)`
        who = f"{issued['role']} {issued['actor_id']}" if issued["actor_id"] else "operations"
        typer.echo(f"token {issued['id']} for {who}; shown only this once, store it now (send it as `Authorization: Bearer TOKEN`):", err=True)
        typer.echo(issued["token"])

    emit(cli.json, issued, human)


@app.command("list")
def list_(ctx: typer.Context, active: bool = typer.Option(False, "--active", help="Only tokens not revoked.")) -> None:
    """List the tokens (ids, roles, actors; never the tokens themselves)."""
    cli = ctx_obj(ctx)
    rows: list[dict[str, Any]] = jsonable(cli.engine(catch_up=False).tokens.list(include_revoked=not active))
    shown = [r | {"created": _when(r["created_at"]), "revoked": _when(r["revoked_at"])} for r in rows]
    emit(cli.json, rows, lambda: print_table(shown, TOKEN_COLUMNS, empty="no tokens (create one with `deliverycli tokens create`)"))


@app.command("revoke")
def revoke(ctx: typer.Context, token_id: str = typer.Argument(..., metavar="TOKEN_ID", help="The token's id (see `tokens list`).")) -> None:
    """Revoke a token: from now on the gateway answers it with 401."""
    cli = ctx_obj(ctx)
    token = jsonable(cli.engine(catch_up=False).tokens.revoke(token_id))
    emit(cli.json, token, lambda: print_fields(token, [("id", "token"), ("role", "role"), ("actor_id", "acts as"), ("revoked_at", "revoked")], title=f"Token {token['id']} revoked"))
