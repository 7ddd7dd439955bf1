"""Firing due timers, exactly once, whichever process gets there first.

One transaction per timer: claim it (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several processes
take different timers instead of queueing; SQLite's single writer serialises them), run its
deadline's command through the command path in a savepoint of that same transaction, and mark the
timer with the outcome. Either both commit or neither does: a process killed while firing leaves the
timer pending (and its command undone) for the next process that catches up.

The command may be refused: the order moved on first (the store accepted, a rider picked it up, the
customer confirmed). The timer is then cancelled, never retried: accepting first wins the race. A
command that comes too early (``NotYet``) postpones the timer; one that fails with an unexpected
error (a bug) marks it failed, so it cannot block every later catch-up, and ``doctor`` reports it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..commands import AlertPickupOverdue, AutoConfirmDelivery, ExpireAcceptance
from ..errors import ConcurrencyConflict, DeliveryError, NotYet, first_line, unavailable_database
from ..unit_of_work import UnitOfWork
from ..views import TimerView
from .timers import ACCEPTANCE, ACTOR, CANCELLED, CONFIRM, FAILED, FIRED, PENDING, PICKUP, timers, view

if TYPE_CHECKING:
    from ..messagebus import MessageBus

log = logging.getLogger(__name__)

COMMANDS: dict[str, Any] = {ACCEPTANCE: ExpireAcceptance, PICKUP: AlertPickupOverdue, CONFIRM: AutoConfirmDelivery}
DONE = {ACCEPTANCE: "rejected by the system: not accepted in time", PICKUP: "the store and operations were alerted", CONFIRM: "confirmed by the system"}
NOT_YET_DELAY_S = 30.0  # a timer whose command came too early is tried again this much later
CLAIM_RETRIES = 20

_ANY_DUE = sa.select(timers.c.id).where(timers.c.state == PENDING, timers.c.due_at <= sa.bindparam("now")).limit(1)
_CLAIM = (
    sa.select(timers)
    .where(timers.c.state == PENDING, timers.c.due_at <= sa.bindparam("now"))
    .order_by(timers.c.due_at, timers.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)


def fire_due(bus: MessageBus, limit: int | None = None) -> list[TimerView]:
    """Fire the timers due now, most overdue first, up to ``limit``; returns each as it was settled.

    The sagas the commands start are left to the caller's drain.
    """
    fired: list[TimerView] = []
    if not _any_due(bus):
        return fired  # the common case, without taking the write lock (SQLite) or a kept connection
    while limit is None or len(fired) < limit:
        settled = fire_one(bus)
        if settled is None:
            break
        fired.append(settled)
    return fired


def _any_due(bus: MessageBus) -> bool:
    with bus.db.connect() as conn, conn.execution_options(readonly=True).begin():
        return conn.execute(_ANY_DUE, {"now": bus.clock.now()}).first() is not None


def fire_one(bus: MessageBus) -> TimerView | None:
    """Claim one due timer and fire it; None when no timer is due (or every due one is being fired elsewhere)."""
    for _ in range(CLAIM_RETRIES):
        try:
            return _claim_and_fire(bus)
        except ConcurrencyConflict:
            continue  # the order changed between our read and our write: claim again, on a fresh read
    return None


def _claim_and_fire(bus: MessageBus) -> TimerView | None:
    with bus.unit_of_work(ACTOR) as uow:
        row = uow.conn.execute(_CLAIM, {"now": uow.now}).first()
        if row is None:
            return None
        command = COMMANDS[row.kind](row.order_id)
        handler = bus.command_handlers[type(command)]

        @contextmanager
        def same_transaction() -> Iterator[sa.Connection]:
            yield uow.conn

        def unit_of_work(actor: str) -> UnitOfWork:  # the command's unit: a savepoint of the claim
            return UnitOfWork(same_transaction, actor, bus.clock, bus.on_commit)

        values: dict[str, Any] = {"due_at": row.due_at, "state": FIRED, "settled_at": uow.now, "outcome": DONE[row.kind]}
        try:
            handler(command, unit_of_work)
        except ConcurrencyConflict:
            raise
        except NotYet as early:
            values.update(state=PENDING, settled_at=None, due_at=uow.now + timedelta(seconds=NOT_YET_DELAY_S), outcome=f"postponed: {early.message}")
        except DeliveryError as refusal:
            if unavailable_database(refusal) is not None:
                raise  # the database failed, not the deadline: the timer stays pending
            values.update(state=CANCELLED, outcome=f"not needed: {refusal.message}"[:500])
        except Exception as error:  # noqa: BLE001 - a bug in a command must not stop every later catch-up
            unavailable = unavailable_database(error)
            if unavailable is not None:
                raise unavailable from error
            log.error("firing timer %s (%s of order %s) failed: %s", row.id, row.kind, row.order_id, error, exc_info=True)
            values.update(state=FAILED, outcome=f"failed: {type(error).__name__}: {first_line(error)}"[:500])
        uow.conn.execute(timers.update().where(timers.c.id == row.id).values(**values))
        uow.commit()
    return view(row).model_copy(update=values)
