"""``engine.ops``: Operating the engine: health, the operations overview, dead letters, proof and repair."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import eventlog
from ..views import DeadLetter, Health, Operations, WorkerView

if TYPE_CHECKING:
    from ..invariants import CheckResult

from ._base import _Group


class Ops(_Group):
    """Operating the engine: health, the operations overview, dead letters, proof and repair."""

    def health(self) -> Health:
        """Liveness and readiness: schema, each subscriber's lag, dead letters, the breaker."""
        from .. import health

        engine, settings = self.engine, self.engine.settings
        return health.health(
            engine.db, engine.url, engine.handled(), settings.breaker_fail_max, settings.breaker_reset_timeout_s, now=engine.clock.now()
        )

    def overview(self, stuck_after_s: float = 600.0, now: datetime | None = None, minutes: int = 30, stuck_limit: int = 50) -> Operations:
        """What an operator watches: see ``health.operations``."""
        from .. import health

        engine, settings = self.engine, self.engine.settings
        return health.operations(
            engine.db, engine.handled(), settings.breaker_fail_max, settings.breaker_reset_timeout_s,
            now=now or engine.clock.now(), stuck_after_s=stuck_after_s, minutes=minutes, stuck_limit=stuck_limit,
        )

    def workers(self) -> list[WorkerView]:
        """Every registered `deliverycli worker`, with its last beat and whether it is stale."""
        from .. import workers

        with self.engine.read() as conn:
            return workers.listing(conn, self.engine.clock.now())

    def lag(self) -> dict[str, int]:
        """Events each subscriber has yet to take effect on, by subscriber."""
        with self.engine.read() as conn:
            return eventlog.lag(conn, self.engine.handled())

    def dead_letters(self, include_resolved: bool = False) -> list[DeadLetter]:
        """Events parked after their handler kept failing, oldest first."""
        with self.engine.read() as conn:
            return eventlog.list_dead_letters(conn, include_resolved)

    def retry_dead_letter(self, dead_letter_id: int) -> DeadLetter:
        """Run a parked event through its subscriber again (a webhook's: send it to the endpoint again); on success it is marked resolved."""
        from ..dead_letters import retry

        return retry(self.engine.bus, dead_letter_id, redeliver=self.engine.webhooks.redeliver)

    def check_invariants(self) -> CheckResult:
        """Check SPEC §5–§6 against the event log; ``problems`` is empty when every promise holds
        (``warnings``: deadlines overdue and not fired, timers whose firing failed)."""
        from .. import invariants

        return invariants.run(self.engine.db, self.engine.handled(), self.engine.gateway, now=self.engine.clock.now())

    def rebuild_views(self, progress: Callable[[int, int], None] | None = None, mode: str = "auto") -> dict[str, Any]:
        """Rebuild the status view from the event log (notifications are never re-sent); ``progress(done, total)``."""
        from .. import rebuild

        return rebuild.rebuild_status_view(self.engine.bus, progress=progress, mode=mode)
