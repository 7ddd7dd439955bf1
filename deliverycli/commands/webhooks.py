"""webhooks: HTTP endpoints that receive the event log, signed per Standard Webhooks; and a sender for them."""

from __future__ import annotations

import sys
from typing import Any

import typer

from ..cli import ctx_obj, until_interrupted, whole_number
from ..output import emit, jsonable, print_fields, print_table

app = typer.Typer(help="Send signed events to HTTP endpoints (webhooks).", no_args_is_help=True)

WEBHOOK_COLUMNS = [("id", "Webhook"), ("url", "URL"), ("events", "Events"), ("position", "Position"), ("lag", "Lag"), ("created", "Added (UTC)")]
DELIVERY_COLUMNS = [("id", "#"), ("webhook_id", "Webhook"), ("event_id", "Event"), ("event_type", "Type"), ("order_id", "Order"),
                    ("attempt", "Try"), ("result", "Result"), ("duration", "ms"), ("when", "At (UTC)")]


def _when(iso: str | None) -> str | None:
    return iso[:19].replace("T", " ") if iso else None


@app.command("add")
def add(
    ctx: typer.Context,
    url: str = typer.Argument(..., metavar="URL", help="Where to POST each event: an http:// or https:// URL."),
    event: list[str] = typer.Option(None, "--event", metavar="TYPE", help="Only events of this type (repeat for several; default: every event)."),
    secret: str = typer.Option(None, "--secret", metavar="whsec_...", help="The signing secret (default: a new one, printed once)."),
) -> None:
    """Add a webhook and print its secret once.

    From now on every event (or every --event TYPE) is POSTed to URL, signed.

    Headers webhook-id (the event's sequence number), webhook-timestamp and webhook-signature
    (Standard Webhooks); the body is the event as `events tail --json` prints it. A sender sends
    them: `webhooks deliver`, `serve` or the worker.
    """
    cli = ctx_obj(ctx)
    issued = jsonable(cli.engine(catch_up=False).webhooks.add(url, event or None, secret))

    def human() -> None:  # the secret alone on stdout, for `SECRET=$(deliverycli webhooks add ...)`
        what = ", ".join(issued["event_types"]) if issued["event_types"] else "every event"
        typer.echo(f"webhook {issued['id']} for {what} to {issued['url']}; its signing secret, shown only this once:", err=True)
        typer.echo(issued["secret"])

    emit(cli.json, issued, human)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the webhooks and their backlog.

    Never their secrets: each one's position and the events it has yet to be sent."""
    cli = ctx_obj(ctx)
    rows: list[dict[str, Any]] = jsonable(cli.engine(catch_up=False).webhooks.list())
    shown = [r | {"events": ", ".join(r["event_types"]) if r["event_types"] else "all", "created": _when(r["created_at"])} for r in rows]
    emit(cli.json, rows, lambda: print_table(shown, WEBHOOK_COLUMNS, empty="no webhooks (add one with `deliverycli webhooks add URL`)"))


@app.command("remove")
def remove(ctx: typer.Context, webhook_id: str = typer.Argument(..., metavar="ID", help="The webhook's id (see `webhooks list`).")) -> None:
    """Remove a webhook.

    Nothing more is sent to it, and its waiting dead letters are dropped."""
    cli = ctx_obj(ctx)
    removed, dropped = cli.engine(catch_up=False).webhooks.remove(webhook_id)
    data = jsonable(removed) | {"removed": True, "dead_letters_dropped": dropped}
    emit(cli.json, data, lambda: print_fields(data, [("url", "url"), ("position", "position"), ("dead_letters_dropped", "dead letters dropped")],
                                              title=f"Webhook {data['id']} removed"))


@app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    webhook: str = typer.Option(None, "--webhook", metavar="ID", help="Only this webhook's."),
    failed: bool = typer.Option(False, "--failed", help="Only failed attempts (no answer, or not 2xx)."),
    limit: int = typer.Option(100, "--limit", "-n", parser=whole_number(1, 100_000), metavar="N", help="How many of the newest attempts."),
) -> None:
    """List every attempt to send an event.

    Oldest first: the webhook, status code, duration, error."""
    cli = ctx_obj(ctx)
    rows: list[dict[str, Any]] = jsonable(cli.engine(catch_up=False).webhooks.deliveries(webhook, failed, limit))
    shown = [r | {"result": (str(r["status_code"]) if r["ok"] else r["error"]), "duration": f"{r['duration_ms']:.0f}", "when": _when(r["attempted_at"])}
             for r in rows]
    emit(cli.json, rows, lambda: print_table(shown, DELIVERY_COLUMNS, empty="no failed deliveries" if failed else "no deliveries yet"))


@app.command("deliver")
def deliver(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Send what is pending now, then exit."),
) -> None:
    """Send the webhooks their events, until Ctrl+C.

    Also stops on SIGTERM. Needs the `webhooks` extra.

    Each endpoint in order and on its own: a slow or failing one never holds up another. A failed
    attempt is retried with backoff; after the last one the event is parked as a dead letter
    (`deadletters list`, `deadletters retry ID`). At least once: receivers deduplicate by webhook-id.
    """
    from ..integrations import require_extra

    require_extra("httpx", "webhooks")
    require_extra("stamina", "webhooks")
    from ..integrations.webhooks import WebhookDispatcher, quiet_stamina

    quiet_stamina()
    cli = ctx_obj(ctx)
    engine = cli.engine(catch_up=False)  # a sender only reads the log: it settles no one's sagas
    with WebhookDispatcher(engine, on_error=_warn) as dispatcher:
        if once:
            while dispatcher.run_once():
                pass
        else:
            if not cli.json:
                typer.echo("sending webhooks; Ctrl+C stops", err=True)
            with until_interrupted() as stop:
                dispatcher.run(stop)
        result = {"id": "webhooks", **dispatcher.stats.as_dict()}
    emit(cli.json, result, lambda: print_fields(result, [("delivered", "delivered"), ("parked", "parked"), ("attempts", "attempts"),
                                                         ("failed_attempts", "failed attempts")], title="Webhooks sent"))


def _warn(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
