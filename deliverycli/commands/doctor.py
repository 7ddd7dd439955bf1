"""Check liveness and readiness: database, schema, subscriber lag, dead letters, payment breaker; exit 1 if unhealthy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from ..cli import ctx_obj
from ..output import emit, jsonable

if TYPE_CHECKING:
    from ..settings import Settings

NAMED_DEAD_LETTERS = 10  # problems name at most this many dead letters one by one


def _down(base: dict[str, Any], state: str, problem: str, *, reachable: bool, version: str | None = None) -> dict[str, Any]:
    from ..engine.storage import SCHEMA_HEAD

    return base | {
        "state": state,
        "reachable": reachable,
        "initialised": version is not None,
        "schema": {"current": version, "expected": SCHEMA_HEAD, "ready": False},
        "problems": [problem],
        "healthy": False,
    }


def _dead_letter_problem(letter: dict[str, Any]) -> str:
    return (
        f"dead letter {letter['id']}: subscriber {letter['subscriber']} could not handle {letter['event_type']} "
        f"(event {letter['event_id']}, order {letter['order_id']}) after {letter['attempts']} attempt(s): {letter['error']}; "
        f"retry it with `deliverycli deadletters retry {letter['id']}`"
    )


# A database that cannot be used, by what is wrong with it (DatabaseUnavailable.reason): the
# doctor's state, and whether the database answered at all.
UNAVAILABLE_STATES = {
    "busy": ("locked", True),
    "timeout": ("not answering", True),
    "schema": ("schema mismatch", True),
    "read_only": ("read-only", True),
    "full": ("disk full", True),
    "corrupt": ("damaged", True),
    "io": ("I/O error", True),
}


def diagnose(settings: Settings) -> dict[str, Any]:
    """The doctor's report; observes only (no catch-up), so a lagging subscriber is a finding.

    Every wait is bounded by the settings' timeouts (connecting, statements, locks), so an
    unreachable or locked database is reported within seconds, and told apart.
    """
    from pathlib import Path

    import sqlalchemy as sa

    from ..cli import describe_error
    from ..engine import storage
    from ..engine.bootstrap import Engine
    from ..engine.errors import DatabaseUnavailable, NotFound, unavailable_database

    url = storage.database_url(settings.db)
    base = {"id": "doctor", "database": storage.describe(url), "backend": url.get_backend_name()}
    if url.get_backend_name() == "sqlite" and not Path(url.database).exists():
        return _down(base, "not initialised", describe_error(storage.missing_database(url)), reachable=False)
    try:
        engine = Engine.open(settings, catch_up=False)
    except NotFound as exc:
        return _down(base, "not initialised", describe_error(exc), reachable=True)
    except DatabaseUnavailable as exc:
        return _unavailable(settings, base, exc, describe_error(exc))
    try:
        with engine:
            report = jsonable(engine.ops.health())
            dead = jsonable(engine.ops.dead_letters())
    except DatabaseUnavailable as exc:  # e.g. the server went away or the database stayed locked
        return _unavailable(settings, base, exc, describe_error(exc))
    except sa.exc.SQLAlchemyError as exc:  # reachable, but something in it is broken: a finding too
        unavailable = unavailable_database(exc)
        if unavailable is not None:
            return _unavailable(settings, base, unavailable, describe_error(unavailable))
        return _down(base, "error", f"database error: {storage.first_line(exc)}", reachable=True, version=storage.SCHEMA_HEAD)
    report["initialised"] = True
    report["dead_letter_list"] = dead
    report["problems"] = list(report["problems"]) + [_dead_letter_problem(d) for d in dead[:NAMED_DEAD_LETTERS]]
    if len(dead) > NAMED_DEAD_LETTERS:
        report["problems"].append(f"... and {len(dead) - NAMED_DEAD_LETTERS} more dead letter(s)")
    report["state"] = "healthy" if report["healthy"] else "unhealthy"
    return report


def _unavailable(settings: Settings, base: dict[str, Any], exc: Any, problem: str) -> dict[str, Any]:
    state, reachable = UNAVAILABLE_STATES.get(exc.reason, ("unreachable", False))
    version = _schema_version(settings) if exc.reason == "schema" else None
    return _down(base, state, problem, reachable=reachable, version=version) | {"exit_code": exc.exit_code}


def _schema_version(settings: Settings) -> str | None:
    """The revision of a database whose schema did not match (it answered: reading it is quick)."""
    from ..engine import storage
    from ..engine.errors import DeliveryError

    db = storage.engine_for(storage.database_url(settings.db), settings)
    try:
        return storage.schema_version(db)
    except DeliveryError:
        return None
    finally:
        db.dispose()


def _print(report: dict[str, Any]) -> None:
    def line(label: str, text: Any) -> None:
        typer.echo(f"  {label:<14} {text}")

    typer.echo(f"deliverycli doctor: {report['database']}")
    if report.get("reachable") and report.get("initialised") and "subscribers" in report:
        schema = report["schema"]
        line("database", f"reachable ({report['backend']})")
        line("schema", f"{schema['current']} (expected {schema['expected']}): {'ready' if schema['ready'] else 'NOT READY'}")
        line("events", report["events"])
        line("subscribers", "events not yet applied:")
        for sub in report["subscribers"]:
            line(f"  {sub['id']}", "up to date" if not sub["lag"] else f"{sub['lag']} events behind")
        line("backlog", f"{report.get('backlog', 0)} event(s) not yet applied, all subscribers")
        running = report.get("workers", [])
        line("workers", f"{sum(not w['stale'] for w in running)} live" + (f", {sum(w['stale'] for w in running)} STALE" if any(w["stale"] for w in running) else "")
             + ("" if running else " (commands and the console settle sagas themselves; `deliverycli worker` keeps them on time)"))
        for w in running:
            line(f"  {w['id']}", f"{'STALE: ' if w['stale'] else ''}{w['state']}, last beat {w['silent_s']:.1f} s ago, "
                                f"{w['applied']} applied" + (f", last drained {w['doing']}" if w["doing"] else ""))
        line("dead letters", report["dead_letters"])
        breaker = report["breaker"]
        line("breaker", f"{breaker['state']} ({breaker['fail_counter']}/{breaker['fail_max']} consecutive failures)")
        line("payments", f"{report['pending_payments']} pending")
        counts = report["orders_by_status"]
        line("orders", ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) if counts else "none")
    else:
        line("database", report["state"])
        schema = report["schema"]
        line("schema", f"{schema['current'] or '-'} (expected {schema['expected']})")
    if "invariants" in report:  # doctor --check
        from .views import print_invariants

        print_invariants(report)
    if report["healthy"]:
        typer.echo("healthy")
    else:
        state = "" if report["state"] == "unhealthy" else f" ({report['state']})"
        typer.echo(f"UNHEALTHY{state}: {len(report['problems'])} problem(s)")
        for problem in report["problems"]:
            typer.echo(f"  - {problem}")


def command(
    ctx: typer.Context,
    check: bool = typer.Option(False, "--check", help="Also check every invariant against the event log (charged once, refunded once, "
                               "exactly-once subscribers, status view = rebuild, one notification per change); names the offending orders."),
) -> None:
    """Check liveness and readiness. Reports the database, schema, subscriber lag, dead letters and payment breaker; exits 1 if unhealthy."""
    cli = ctx_obj(ctx)
    report = diagnose(cli.settings())
    if check:
        from .views import add_invariants

        add_invariants(cli.settings(), report)
    exit_code = report.pop("exit_code", 1)  # 7 when the database is unavailable (SPEC §8), else 1 when unhealthy
    emit(cli.json, report, lambda: _print(report))
    if not report["healthy"]:
        raise SystemExit(exit_code)  # not typer.Exit: the root app runs with standalone_mode=False, which swallows its code
