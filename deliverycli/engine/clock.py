"""Time as the engine sees it: injected, so tests and simulations move it instead of waiting for it.

Every timestamp the engine writes, every retry back-off and every circuit-breaker cool-down asks a
``Clock``. Production uses ``SystemClock``; a test (or a simulation of a day in seconds) passes a
``ManualClock`` and advances it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Wall time for records, monotonic time for waiting, and a way to wait."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring waits."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a manual clock advances instead)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ManualClock:
    """A clock that moves only when told: ``advance(seconds)``, or ``sleep`` (which advances at once).

    Thread-safe, so a test may advance it while engine threads read it.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self._monotonic = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> datetime:
        """Move time forward by ``seconds``; returns the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._monotonic += seconds
            return self._now


SYSTEM_CLOCK = SystemClock()
