"""``engine.timers``: durable deadlines (acceptance, pickup alert, auto-confirm): what is pending, what is due, firing."""

from __future__ import annotations

from ..views import TimerView
from ._base import _Group

TimerViews = list[TimerView]


class Timers(_Group):
    """Durable deadlines: each order's pending ones, those due now, and firing them (``deadlines``)."""

    def pending(self, order_id: str) -> TimerViews:
        """An order's pending deadlines, soonest first (NotFound for an unknown order)."""
        from ..deadlines import timers
        from ..status import get_status

        with self.engine.read() as conn:
            get_status(conn, order_id)  # NotFound for an order never placed
            return timers.pending(conn, order_id)

    def of_order(self, order_id: str) -> TimerViews:
        """Every deadline an order started, with what became of it, oldest first."""
        from ..deadlines import timers

        with self.engine.read() as conn:
            return timers.of_order(conn, order_id)

    def due(self, limit: int = 100, overdue_by_s: float = 0.0) -> TimerViews:
        """Pending timers due now (or overdue by at least ``overdue_by_s``), most overdue first."""
        from ..deadlines import timers

        with self.engine.read() as conn:
            return timers.due(conn, self.engine.clock.now(), limit, overdue_by_s=overdue_by_s)

    def counts(self) -> dict[str, dict[str, int]]:
        """How many timers of each kind are in each state (pending, fired, cancelled, failed)."""
        from ..deadlines import timers

        with self.engine.read() as conn:
            return timers.counts(conn)

    def fire_due(self, limit: int | None = 100, *, settle: bool = True) -> TimerViews:
        """Fire the timers due now (each exactly once, whichever process claims it), then, unless
        ``settle=False``, drain the sagas their commands started (refunds, notifications)."""
        from ..deadlines.firing import fire_due
        from ..unit_of_work import database_errors

        with database_errors():
            fired = fire_due(self.engine.bus, limit)
            if settle and fired:
                self.engine.bus.drain()
        return fired
