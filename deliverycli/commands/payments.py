"""payments: list payments and show one (the /payments route). Cards are only ever shown masked."""

from __future__ import annotations

from typing import Any

import typer

from ..cli import ctx_obj, whole_number
from ..output import Column, emit, jsonable, money, print_fields, print_table

app = typer.Typer(help="List payments and show one order's payment. Cards are only ever shown masked.", no_args_is_help=True)

# On a narrow console the gateway's ids go first, then the card, then the time.
PAYMENT_COLUMNS = [
    Column("id", "Order"),
    Column("status", "Status"),
    Column("amount_text", "Amount"),
    Column("card", "Card", drop=3),
    Column("charge_id", "Charge", drop=5),
    Column("refund_id", "Refund", drop=4),
    Column("created_at", "Created", drop=2),
    Column("reason", "Reason", wrap=True),
]


def _human(payment: dict[str, Any], currency: str) -> dict[str, Any]:
    from .status import local_time

    return payment | {
        "amount_text": money(payment["amount"], currency),
        "created_at": local_time(payment["created_at"], with_date=True),
        "refunded_at": local_time(payment.get("refunded_at"), with_date=True),
    }


@app.command("list")
def list_(ctx: typer.Context, limit: int = typer.Option(100, "--limit", parser=whole_number(1, 10_000), metavar="N", help="At most this many, newest first.")) -> None:
    """List payments, newest first."""
    cli = ctx_obj(ctx)
    engine = cli.engine(catch_up=False)
    payments = jsonable(engine.payments.list(limit))
    emit(cli.json, payments, lambda: print_table([_human(p, engine.settings.currency) for p in payments], PAYMENT_COLUMNS, empty="no payments"))


@app.command("show")
def show(ctx: typer.Context, order_id: str = typer.Argument(..., metavar="ORDER", help="The order's id, e.g. ord-000042.")) -> None:
    """Show the payment of one order."""
    cli = ctx_obj(ctx)
    engine = cli.engine(catch_up=False)
    payment = jsonable(engine.payments.get(order_id))
    keys = [("id", "order"), ("status", "status"), ("amount_text", "amount"), ("card", "card"), ("charge_id", "charge"), ("refund_id", "refund"), ("reason", "reason"), ("created_at", "created"), ("refunded_at", "refunded")]
    emit(cli.json, payment, lambda: print_fields(_human(payment, engine.settings.currency), keys, title=f"Payment of order {payment['id']}"))
