"""The promises of SPEC §5 and §6, checked against a database: what `doctor --check` runs.

The event log is the source of truth. Everything else (each context's tables, the status view,
the notifications and the payment provider's ledger) is checked against it:

- every order placed is in exactly one status, reached by allowed transitions, and the ordering
  context agrees with the log;
- each paid order was charged once, for its total, and no charge exists without its order;
- each order the store cancelled or rejected was refunded exactly once, and nothing else was;
- no order reached the store (or the delivery list) without an approved charge (or cooking);
- no subscriber took effect on any event twice, and none skipped one it claims to have passed;
- the status view equals a rebuild of the log (``rebuild.fold_status``);
- there is exactly one notification (to the customer) per status change.

Not broken promises, but worth a look (``warnings``): a deadline's timer still pending long after it
fell due (no process caught up meanwhile: nothing fires deadlines on time without a worker), and a
timer whose firing failed with an unexpected error. Money stays right either way.

It is safe to run while other processes work: the database is read in one consistent snapshot
(REPEATABLE READ on PostgreSQL), each subscriber is judged only up to the position it has reached,
an event parked as a dead letter is not counted as lost (``doctor`` lists dead letters itself), and
the provider's ledger (a separate database for SQLite) is read first and re-asked about any
mismatch, so a charge in flight is not mistaken for a lost one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..unit_of_work import database_errors
from .checker import Checker, Problem
from .snapshot import Snapshot, ledger_of


@dataclass
class CheckResult:
    problems: list[Problem]
    orders: int = 0
    events: int = 0
    positions: dict[str, int] = field(default_factory=dict)
    ledger: str = "not checked"
    warnings: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
            "warnings": [w.as_dict() for w in self.warnings],
            "orders": self.orders,
            "events": self.events,
            "positions": self.positions,
            "ledger": self.ledger,
            "problems": [p.as_dict() for p in self.problems],
            "offending_orders": sorted({p.order_id for p in self.problems if p.order_id}),
        }


def check(db: sa.Engine, handled: Mapping[str, set[str]], gateway: Any = None) -> list[Problem]:
    """Every broken promise found, each naming its order and what is wrong; empty when all hold."""
    return run(db, handled, gateway).problems


OVERDUE_WARNING_S = 300.0  # a pending timer this long after its due time is reported (a worker fires within a second or so)
NAMED_TIMERS = 20


def run(db: sa.Engine, handled: Mapping[str, set[str]], gateway: Any = None, now: datetime | None = None) -> CheckResult:
    """Check the database ``db`` whose subscribers handle the event types ``handled`` (by name).

    ``gateway`` is the payment provider: when it can list its charges (``charges()``, as the
    simulated one and the HTTP provider do) the provider's records are checked against ours too.
    """
    with database_errors():
        ledger, ledger_checked = ledger_of(gateway)  # first: see the module docstring
        with db.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.execution_options(readonly=True).begin():
                snap = Snapshot.read(conn)
                warnings = _timer_warnings(conn, now) if now is not None else []
        checker = Checker(handled, snap, gateway if ledger is not None else None, ledger)
        checker.run()
    return CheckResult(
        checker.problems,
        orders=len(snap.orders_log),
        events=snap.events,
        positions=snap.positions,
        ledger=ledger_checked,
        warnings=warnings,
    )


def _timer_warnings(conn: sa.Connection, now: datetime) -> list[Problem]:
    from ..deadlines import timers

    warnings = []
    overdue = timers.count_due(conn, now, overdue_by_s=OVERDUE_WARNING_S)
    for t in timers.due(conn, now, NAMED_TIMERS, overdue_by_s=OVERDUE_WARNING_S):
        late = int((now - t.due_at).total_seconds())
        warnings.append(Problem(
            t.order_id, "timer-overdue",
            f"its {t.kind} deadline fell due {late // 60} min {late % 60} s ago and has not fired (no process has caught up since; a worker fires deadlines on time)",
        ))
    if overdue > NAMED_TIMERS:
        warnings.append(Problem(None, "timer-overdue", f"... and {overdue - NAMED_TIMERS} more overdue timer(s)"))
    for t in timers.failed(conn, NAMED_TIMERS):
        warnings.append(Problem(t.order_id, "timer-failed", f"firing its {t.kind} deadline failed: {t.outcome}"))
    return warnings
