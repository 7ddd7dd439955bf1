"""Relay the event log to NATS JetStream, in order and exactly once, until Ctrl+C or SIGTERM (needs the `nats` extra)."""

from __future__ import annotations

import signal
import sys
from typing import Any

import typer

from ..cli import ctx_obj, whole_number
from ..integrations import require_extra
from ..output import emit, print_fields


def command(
    ctx: typer.Context,
    nats_url: str = typer.Option(..., "--nats", metavar="URL", help="The NATS server, e.g. nats://127.0.0.1:4222.", show_default=False),
    stream: str = typer.Option("DELIVERYCLI", "--stream", metavar="NAME", help="The JetStream stream (created if missing)."),
    subject_prefix: str = typer.Option("deliverycli", "--subject-prefix", metavar="PREFIX", help="Subjects are PREFIX.CONTEXT.EVENT_TYPE, e.g. deliverycli.ordering.OrderPlaced."),
    once: bool = typer.Option(False, "--once", help="Relay the events there are now, then exit."),
    batch: int = typer.Option(500, "--batch", parser=whole_number(1, 10_000), metavar="N", help="Events published per round trip."),
) -> None:
    """Relay the event log to NATS JetStream.

    In order and exactly once, until Ctrl+C or SIGTERM (needs the `nats` extra). Each event goes to
    PREFIX.CONTEXT.EVENT_TYPE with header Nats-Msg-Id = its sequence number and
    the body `events tail --json` prints. The relay remembers how far it got, in the database, only
    after NATS acknowledged: a restart resumes where it stopped.
    """
    require_extra("nats", "nats")
    from ..integrations.nats_relay import NatsRelay, check_options

    check_options(nats_url, stream, subject_prefix)  # before touching the database
    cli = ctx_obj(ctx)
    engine = cli.engine(catch_up=False)  # the relay only reads the log: it settles no one's sagas
    relay = NatsRelay(engine.db, nats_url, stream, subject_prefix, batch_size=batch, give_up_after=5 if once else None, on_error=_warn)
    if not cli.json and not once:
        typer.echo(f"relaying events to {nats_url}, stream {stream}, subjects {subject_prefix}.CONTEXT.EVENT_TYPE; Ctrl+C stops")
    import asyncio  # here, not at the top: `deliverycli --help` registers this group too (asyncio is ~25 ms)

    result = asyncio.run(_run(relay, once)).as_dict()
    emit(cli.json, result, lambda: print_fields(result, [
        ("stream", "stream"), ("start_position", "started at"), ("position", "position"), ("relayed", "relayed"), ("errors", "errors")],
        title="Relay stopped" if not once else "Relayed"))


async def _run(relay: Any, once: bool) -> Any:
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # finish the batch in flight, record it, then exit 0
        loop.add_signal_handler(sig, stop.set)
    return await relay.run(stop, once=once)


def _warn(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
