"""Drive N orders through their whole lifecycle: customers order, stores decide, riders deliver."""

from __future__ import annotations

import sys
from typing import Any

import typer

from ..cli import ctx_obj, decimal, whole_number
from ..output import emit, money, print_fields, print_table


def _print_summary(summary: dict[str, Any]) -> None:
    pay = summary["payments"]
    print_fields(
        {
            "run": f"{summary['run']}{' (resumed)' if summary['resumed'] else ''}",
            "orders": summary["orders"],
            "events": f"{summary['events']:,}",
            "notifications": f"{summary['notifications']:,}",
            "charged": money(pay["charged"]),
            "refunded": money(pay["refunded"]),
            "wall": f"{summary['wall_time_s']:.2f} s",
            "rate": f"{summary['lifecycles_per_s']} lifecycles/s",
        },
        [("run", "run"), ("orders", "orders"), ("events", "events"), ("notifications", "notifications"), ("charged", "charged"), ("refunded", "refunded"), ("wall", "wall time"), ("rate", "throughput")],
        title="Simulation finished" if not summary["unfinished"] else f"Simulation stopped with {summary['unfinished']} unfinished orders",
    )
    if summary["options"].get("deadlines"):
        d = summary["deadlines"]
        print_fields(
            {"rejected": d["auto_rejected"], "alerts": d["pickup_alerts"], "confirmed": d["auto_confirmed"]},
            [("rejected", "not accepted in time"), ("alerts", "pickup alerts"), ("confirmed", "auto-confirmed")], title="Deadlines",
        )
    rows = [{"id": status, "count": f"{n:,}"} for status, n in summary["orders_by_status"].items()]
    print_table(rows, [("id", "Final status"), ("count", "Orders")])
    for reason, n in summary["not_placed"].items():
        print_fields({"n": f"{n} ({reason})"}, [("n", "skipped")])


def command(
    ctx: typer.Context,
    orders: int = typer.Option(None, "--orders", parser=whole_number(), metavar="N", help="How many orders to drive through their lifecycle (required unless --resume)."),
    stores: int = typer.Option(3, "--stores", parser=whole_number(), metavar="N", help="Stores taking part (existing ones first; missing ones are added)."),
    riders: int = typer.Option(3, "--riders", parser=whole_number(), metavar="N", help="Riders taking part (existing ones first; missing ones are added)."),
    cancel_rate: float = typer.Option(0.1, "--cancel-rate", parser=decimal(0, 1), metavar="RATE", help="Share of orders the customer cancels before cooking (0..1)."),
    reject_rate: float = typer.Option(0.05, "--reject-rate", parser=decimal(0, 1), metavar="RATE", help="Share of orders the store rejects (0..1)."),
    payment_failure_rate: float = typer.Option(0.0, "--payment-failure-rate", parser=decimal(0, 1), metavar="RATE", help="Share of charges the simulated gateway fails (0..1)."),
    payment_latency_ms: int = typer.Option(0, "--payment-latency-ms", parser=whole_number(), metavar="MS", help="Latency of every simulated payment call, in milliseconds."),
    seed: int = typer.Option(0, "--seed", parser=whole_number(), metavar="SEED", help="The same seed on the same database gives the same run."),
    resume: bool = typer.Option(False, "--resume", help="Finish the newest interrupted simulation on this database."),
    deadlines: bool = typer.Option(False, "--deadlines", help="Run on simulated time with the deadlines acting: some stores never answer, "
                                   "some riders come late, some customers never confirm (a day of timers takes seconds)."),
    ignore_rate: float = typer.Option(0.05, "--ignore-rate", parser=decimal(0, 1), metavar="RATE", help="With --deadlines: share of orders the store never answers (0..1)."),
    late_pickup_rate: float = typer.Option(0.1, "--late-pickup-rate", parser=decimal(0, 1), metavar="RATE", help="With --deadlines: share of orders no rider picks up before the alert (0..1)."),
    unconfirmed_rate: float = typer.Option(0.2, "--unconfirmed-rate", parser=decimal(0, 1), metavar="RATE", help="With --deadlines: share of deliveries the customer never confirms (0..1)."),
) -> None:
    """Simulate a day of orders, start to finish. It uses the commands people use; the same seed gives the same run."""
    from ..engine.errors import InvalidInput
    from ..engine.simulation import SimulationOptions, simulate

    cli = ctx_obj(ctx)
    if resume:
        options = None
    elif orders is None:
        raise InvalidInput("--orders is required (or --resume to finish an interrupted simulation)")
    else:
        options = SimulationOptions(
            orders, stores, riders, cancel_rate, reject_rate, payment_failure_rate, payment_latency_ms, seed,
            deadlines=deadlines, ignore_rate=ignore_rate, late_pickup_rate=late_pickup_rate, unconfirmed_rate=unconfirmed_rate,
        ).validate()
    settings = cli.settings()
    if cli.json or not sys.stdout.isatty():
        summary = simulate(settings, options, resume=resume)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("orders"), TimeElapsedColumn(), TimeRemainingColumn()) as bar:
            task = bar.add_task("orders", total=options.orders if options else None)

            def progress(_phase: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            summary = simulate(settings, options, resume=resume, progress=progress)
    emit(cli.json, summary, lambda: _print_summary(summary))
    if summary["unfinished"]:  # a run that stops short is not a success: say why, exit 4
        from ..engine.lifecycle import FINAL

        left = ", ".join(f"{n} {status}" for status, n in summary["orders_by_status"].items() if status not in FINAL)
        sys.stderr.write(
            f"error: {summary['unfinished']} order(s) left unfinished ({left}): another process changed them, or an event "
            "is parked (see `deliverycli doctor`); finish them with `deliverycli simulate --resume`\n"
        )
        raise SystemExit(4)
