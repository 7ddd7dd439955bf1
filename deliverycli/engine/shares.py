"""PostgreSQL: several workers split the subscribers between them, each draining only its share.

Without shares every worker woke on every commit, looked for work in every subscriber and found
most of them locked by another worker (``SKIP LOCKED``): the more workers, the more CPU spent on
finding nothing, and fewer lifecycles per second on a busy machine. With shares a worker drains
the subscribers it holds and leaves the others alone.

How: each worker holds two kinds of session advisory locks on a connection of its own. One says
"I am a live worker" (keyed by its backend pid); one per subscriber says "I drain it". A worker's
fair share is ``ceil(subscribers / live workers)``: it releases any beyond that and claims free
ones up to it (``pg_try_advisory_lock``), every ``rebalance()``. A worker that dies (even by
SIGKILL) loses its connection and so its locks at once: the others see one live worker fewer and
claim what it held at their next rebalance. The locks are keyed by the schema, so databases in
other schemas of the same PostgreSQL database do not share.

Shares only spare work: exactly once still rests on the tracking row locks every drain takes,
so a command's drain, a worker that lost its share connection (it then drains everything, as
before), or two workers briefly holding one subscriber during a rebalance are all still correct.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from .bootstrap import Engine

log = logging.getLogger(__name__)

# The granted two-key advisory locks whose first key is {key}, in this database.
_HELD = (
    "FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = CAST(CAST({key} AS bigint) AS oid) "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_LIVE_WORKERS = "SELECT count(*) " + _HELD.format(key="%s")  # psycopg


def libpq_connect(engine: Engine) -> Any:
    """A psycopg connection of its own (autocommit) to the engine's database, outside its pool."""
    import psycopg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(engine.settings.connect_timeout_s)))


def fair_share(subscribers: int, live_workers: int) -> int:
    """How many subscribers each of ``live_workers`` holds at most: ceil(subscribers / live workers)."""
    return -(-subscribers // max(1, live_workers))


def _key(schema: str, what: str) -> int:
    return zlib.crc32(f"deliverycli:{schema}:{what}".encode()) & 0x7FFFFFFF  # an int4 (advisory lock key half)


_HOLDERS = sa.text("SELECT pid, count(*) " + _HELD.format(key=":key") + " GROUP BY pid")


def holders(conn: sa.Connection) -> dict[int, int]:
    """PostgreSQL: how many subscribers each worker holds (by its share connection's backend pid), in this schema."""
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    return dict(conn.execute(_HOLDERS, {"key": _key(schema, "subscribers")}).all())


class SubscriberShares:
    """One worker's share of the subscribers (PostgreSQL). ``rebalance()`` returns the names it holds."""

    def __init__(self, engine: Engine, names: Sequence[str]) -> None:
        self.engine = engine
        self.names = sorted(names)
        self.owned: set[str] = set()
        self._conn: Any = None

    def rebalance(self) -> set[str] | None:
        """Release what is beyond the fair share, claim free subscribers up to it; returns the share,
        or None when the share cannot be known (the database is unreachable): drain everything then."""
        try:
            if self._conn is None:
                self._connect()
            fair = fair_share(len(self.names), self._conn.execute(_LIVE_WORKERS, (self._members,)).fetchone()[0])
            for name in sorted(self.owned, key=self.names.index)[fair:]:
                self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", (self._subscribers, self.names.index(name)))
                self.owned.discard(name)
            start = self._conn.info.backend_pid % len(self.names)  # workers start their claims at different places
            for name in self.names[start:] + self.names[:start]:
                if len(self.owned) >= fair:
                    break
                if name not in self.owned and self._conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (self._subscribers, self.names.index(name))
                ).fetchone()[0]:
                    self.owned.add(name)
        except Exception as exc:  # noqa: BLE001 - a lost connection holds no locks: start again next time
            log.warning("worker shares: %s; draining every subscriber until the database answers", exc)
            self.close()
            return None
        return set(self.owned)

    def _connect(self) -> None:
        self._conn = libpq_connect(self.engine)
        schema = self._conn.execute("SELECT current_schema()").fetchone()[0]
        self._members, self._subscribers = _key(schema, "workers"), _key(schema, "subscribers")
        self._conn.execute("SELECT pg_advisory_lock(%s, pg_backend_pid())", (self._members,))

    def close(self) -> None:
        """Hand the share back (closing the connection drops every lock it holds)."""
        self.owned.clear()
        if self._conn is not None:
            with suppress(Exception):
                self._conn.close()
            self._conn = None
