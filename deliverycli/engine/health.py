"""Health and operations: what `doctor` and the operations view show, and a readiness probe checks.

Read-only: nothing here builds the command side, so a health check never loads the breaker library
nor opens the payment provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa

from . import eventlog, storage, webhooks, workers
from . import status as status_view
from .deadlines import timers
from .ordering.repository import count_pending_payments
from .payment import breaker
from .payment.records import awaiting_reconciliation
from .unit_of_work import database_errors
from .views import Breaker, Health, Operations, SchemaState, SubscriberLag, SubscriberPosition


def breaker_state(conn: sa.Connection, fail_max: int, reset_timeout_s: float) -> Breaker:
    return breaker.describe(breaker.read(conn), fail_max, reset_timeout_s)


def health(
    db: sa.Engine, url: sa.URL, handled: Mapping[str, set[str]], fail_max: int, reset_timeout_s: float, now: datetime | None = None,
) -> Health:
    """Reachability, schema, each subscriber's lag, dead letters, the breaker and the workers; ``problems`` says what is wrong."""
    with database_errors():
        version = storage.schema_version(db)
        with db.connect() as conn, conn.execution_options(readonly=True).begin():
            behind = eventlog.lag(conn, handled)
            pending_payments = count_pending_payments(conn)
            to_reconcile = awaiting_reconciliation(conn)
            counts = status_view.counts_by_status(conn)
            head = eventlog.head(conn)
            parked = eventlog.list_dead_letters(conn)
            breaker_now = breaker_state(conn, fail_max, reset_timeout_s)
            listed = workers.listing(conn, now or storage.utcnow()) if version == storage.SCHEMA_HEAD else []
    problems = []
    if version != storage.SCHEMA_HEAD:
        problems.append(f"schema is at {version}, expected {storage.SCHEMA_HEAD}")
    problems += [f"subscriber {name} is {n} events behind" for name, n in behind.items() if n]
    if parked:
        problems.append(f"{len(parked)} dead letter(s) waiting to be retried")
    if breaker_now.state != breaker.CLOSED:
        problems.append(f"payment circuit breaker is {breaker_now.state}")
    problems += workers.stale_problems(listed)

    return Health(
        database=storage.describe(url),
        backend=url.get_backend_name(),
        reachable=True,
        schema=SchemaState(current=version, expected=storage.SCHEMA_HEAD, ready=version == storage.SCHEMA_HEAD),
        events=head,
        subscribers=[SubscriberLag(id=name, lag=n) for name, n in behind.items()],
        dead_letters=len(parked),
        breaker=breaker_now,
        pending_payments=pending_payments,
        payments_to_reconcile=to_reconcile,
        orders_by_status=counts,
        workers=listed,
        backlog=sum(behind.values()),
        problems=problems,
        healthy=not problems,
    )


def operations(
    db: sa.Engine, handled: Mapping[str, set[str]], fail_max: int, reset_timeout_s: float, *,
    now: datetime, stuck_after_s: float = 600.0, minutes: int = 30, stuck_limit: int = 50,
) -> Operations:
    """Orders by status, events per minute over the last ``minutes``, each subscriber's position and
    lag (each webhook's too, as ``webhook:<id>``), dead letters, the breaker, and orders stuck in a non-final status for longer than ``stuck_after_s``."""
    boundaries = [now - timedelta(minutes=minutes - i) for i in range(minutes + 1)]
    with database_errors(), db.connect() as conn, conn.execution_options(readonly=True).begin():
        behind = eventlog.lag(conn, handled)
        positions = eventlog.positions(conn)
        stuck, stuck_count = status_view.stuck_orders(conn, now - timedelta(seconds=stuck_after_s), stuck_limit)
        overdue = timers.due(conn, now, stuck_limit)
        return Operations(
            head=eventlog.head(conn),
            orders_by_status=status_view.counts_by_status(conn),
            events_per_minute=eventlog.counts_per_interval(conn, boundaries),
            subscribers=[SubscriberPosition(id=name, position=positions.get(name, 0), lag=n) for name, n in behind.items()]
            + [SubscriberPosition(id=name, position=position, lag=n) for name, position, n in webhooks.positions(conn)],
            dead_letters=eventlog.list_dead_letters(conn),
            breaker=breaker_state(conn, fail_max, reset_timeout_s),
            stuck_after_s=stuck_after_s,
            stuck=stuck,
            stuck_count=stuck_count,
            overdue_timers=overdue,
            overdue_timer_count=timers.count_due(conn, now) if len(overdue) == stuck_limit else len(overdue),
            workers=workers.listing(conn, now),
            backlog=sum(behind.values()),
        )
