"""views: the read models kept from the event log (CQRS), and rebuilding them from it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from ..cli import ctx_obj
from ..output import emit, print_fields

if TYPE_CHECKING:
    from ..settings import Settings

app = typer.Typer(help="Rebuild the status view from the event log.", no_args_is_help=True)

NAMED_PROBLEMS = 20  # doctor --check names at most this many broken promises one by one

REBUILD_HELP = (
    "Rebuild the status view from the event log. Each order's status and timeline are replayed, with a progress bar.\n\n"
    "Safe while other processes work: the rebuild holds the status subscriber's position, so no event is applied twice "
    "or skipped. Up to 10,000 status events it runs in one transaction (readers see the old view until it commits); "
    "larger logs are replayed in batches that any process resumes if the rebuild is interrupted, and the view is "
    "incomplete until the last batch.\n\n"
    "Notifications are NOT rebuilt: they are messages already sent to people, and rebuilding must not send them again "
    "(no NotificationSent event is appended)."
)


@app.command("rebuild", help=REBUILD_HELP)
def rebuild(
    ctx: typer.Context,
    mode: str = typer.Option("auto", "--mode", metavar="MODE", help="atomic (one transaction), batched (resumable), or auto (atomic for small logs)."),
) -> None:
    from ..engine.errors import InvalidInput

    if mode not in ("auto", "atomic", "batched"):
        raise InvalidInput(f"--mode must be auto, atomic or batched (got {mode!r})")
    cli = ctx_obj(ctx)
    engine = cli.engine()
    if cli.json or not sys.stderr.isatty():
        result = engine.ops.rebuild_views(mode=mode)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        columns = (TextColumn("rebuilding status view"), BarColumn(), MofNCompleteColumn(), TextColumn("events"), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True)) as bar:
            task = bar.add_task("events", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = engine.ops.rebuild_views(progress=progress, mode=mode)
    emit(
        cli.json,
        result,
        lambda: print_fields(
            result,
            [("mode", "mode"), ("events", "events"), ("orders", "orders"), ("timeline_entries", "timeline"), ("position", "position"), ("wall_time_s", "seconds"), ("notifications", "note")],
            title="Status view rebuilt from the event log",
        ),
    )


def add_invariants(settings: Settings, report: dict[str, Any]) -> None:
    """`doctor --check`: run the invariant check and add each broken promise, naming its order, to the report."""
    from ..engine.bootstrap import Engine
    from ..engine.errors import DeliveryError

    if not (report.get("reachable") and report.get("initialised")):
        report["invariants"] = {"ok": False, "checked": False, "problems": []}
        return
    try:
        with Engine.open(settings, catch_up=False) as engine:
            result = engine.ops.check_invariants()
    except DeliveryError as exc:
        report["invariants"] = {"ok": False, "checked": False, "problems": [], "error": exc.message}
        report["problems"] = list(report["problems"]) + [f"invariants could not be checked: {exc.message}"]
        report["healthy"] = False
        return
    report["invariants"] = result.as_dict() | {"checked": True}
    report["warnings"] = list(report.get("warnings", [])) + [f"warning: {w}" for w in result.warnings]  # not a broken promise: still healthy
    if result.problems:
        named = [f"invariant broken: {p}" for p in result.problems[:NAMED_PROBLEMS]]
        if len(result.problems) > NAMED_PROBLEMS:
            named.append(f"... and {len(result.problems) - NAMED_PROBLEMS} more broken invariant(s) (see --json)")
        report["problems"] = list(report["problems"]) + named
        report["healthy"] = False
        report["state"] = "unhealthy"


def print_invariants(report: dict[str, Any]) -> None:
    inv = report.get("invariants") or {}
    if not inv.get("checked"):
        return
    verdict = "all hold" if inv["ok"] else f"{len(inv['problems'])} broken in {len(inv['offending_orders'])} order(s)"
    typer.echo(f"  {'invariants':<14} {inv['orders']} orders, {inv['events']} events checked: {verdict}")
    for warning in report.get("warnings", []):
        typer.echo(f"  - {warning}")
