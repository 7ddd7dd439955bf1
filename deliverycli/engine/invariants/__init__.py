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

It is safe to run while other processes work: the database is read in one consistent snapshot
(REPEATABLE READ on PostgreSQL), each subscriber is judged only up to the position it has reached,
an event parked as a dead letter is not counted as lost (``doctor`` lists dead letters itself), and
the provider's ledger (a separate database for SQLite) is read first and re-asked about any
mismatch, so a charge in flight is not mistaken for a lost one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
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


def run(db: sa.Engine, handled: Mapping[str, set[str]], gateway: Any = None) -> CheckResult:
    """Check the database ``db`` whose subscribers handle the event types ``handled`` (by name).

    ``gateway`` is the payment provider: when it can list its charges (``charges()``, as the
    simulated one does) the provider's records are checked against ours too.
    """
    with database_errors():
        ledger = ledger_of(gateway)  # first: see the module docstring
        with db.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.execution_options(readonly=True).begin():
                snap = Snapshot.read(conn)
        checker = Checker(handled, snap, gateway if ledger is not None else None, ledger)
        checker.run()
    return CheckResult(
        checker.problems,
        orders=len(snap.orders_log),
        events=snap.events,
        positions=snap.positions,
        ledger="checked" if ledger is not None else "not checked (the payment provider does not list its charges)",
    )
