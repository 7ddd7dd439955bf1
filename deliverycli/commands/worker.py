"""worker: drain every subscriber, fire what is due, until SIGTERM or Ctrl+C (or once, with --once)."""

from __future__ import annotations

import json
from typing import Any

import typer

from ..cli import ctx_obj, decimal, until_interrupted
from ..output import emit, jsonable, print_fields


def command(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Drain everything pending and fire what is due, then exit."),
    poll_interval: float = typer.Option(
        None, "--poll-interval", parser=decimal(0.001, 60), metavar="S", show_default=False,
        help="Seconds between looks at the event log when nothing woke the worker (default: 0.05 on SQLite, "
             "where it polls the log's head; 1 on PostgreSQL, where new events wake it through LISTEN/NOTIFY).",
    ),
    beat_interval: float = typer.Option(5.0, "--beat-interval", parser=decimal(0.1, 3600), metavar="S",
                                        help="Seconds between heartbeats (doctor flags a worker silent for 3 beats)."),
    webhooks: bool = typer.Option(True, "--webhooks/--no-webhooks",
                                  help="Also send webhooks their events, in a thread beside the drain (needs the `webhooks` extra)."),
) -> None:
    """Settle sagas and fire deadlines, until stopped.

    The worker drains every subscriber continuously and fires what is due, so sagas settle and deadlines fire even when no command runs. Stops on SIGTERM or Ctrl+C after
    finishing the batch in flight (exit 0). Run several on PostgreSQL to share the work (each
    subscriber is drained by one process at a time); on SQLite one drains while the others stand
    by. Progress is one line per batch that did something (a JSON line with --json), then a summary.
    """
    from ..engine.worker import Worker

    cli = ctx_obj(ctx)
    engine = cli.engine(catch_up=False)  # the worker's first batch catches up

    def progress(batch: Any) -> None:
        data = jsonable(batch)
        if cli.json:
            typer.echo(json.dumps(data, ensure_ascii=False))
        else:
            per = ", ".join(f"{name} {n}" for name, n in sorted(data["subscribers"].items()))
            jobs = f"; {data['jobs_done']} job(s)" if data["jobs_done"] else ""
            typer.echo(f"{data['at'][11:19]} applied {data['events_applied']} event(s){f' ({per})' if per else ''}{jobs}")

    sender, jobs = webhook_sender(engine, once) if webhooks else (None, [])
    worker = Worker(engine, poll_interval_s=poll_interval, beat_interval_s=beat_interval, on_batch=None if once else progress, jobs=jobs)
    if not cli.json and not once:
        typer.echo(f"worker {worker.id} on {engine.url.get_backend_name()}: draining; Ctrl+C or SIGTERM stops after the batch in flight")
    try:
        with until_interrupted() as stop:
            result = jsonable(worker.run(stop, once=once))
    finally:
        if sender is not None:
            sender.stop()
    emit(cli.json, result, lambda: print_fields(result, [
        ("id", "worker"), ("batches", "batches"), ("events_applied", "events applied"), ("jobs_done", "jobs done"), ("stopped_by", "stopped by")],
        title="Worker stopped" if not once else "Worker drained"))


def webhook_sender(engine: Any, once: bool) -> tuple[Any, list[Any]]:
    """Webhooks go out from the worker: for --once a job that sends what is pending; otherwise a
    sender thread beside the drain, so a slow receiver never holds up the sagas. Without the
    `webhooks` extra (httpx, stamina) there is nothing to send with: none, and a note on stderr."""
    try:
        from ..integrations.webhooks import BackgroundSender, WebhookDispatcher, quiet_stamina
    except ImportError:
        typer.echo("webhooks: not sent by this worker (install deliverycli[webhooks])", err=True)
        return None, []
    quiet_stamina()
    if once:
        dispatcher = WebhookDispatcher(engine)
        return _Closing(dispatcher), [dispatcher.run_once]
    return BackgroundSender(engine).start(), []


class _Closing:
    """``stop()`` for a --once dispatcher: hand its leases back."""

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher

    def stop(self) -> None:
        self.dispatcher.close()
