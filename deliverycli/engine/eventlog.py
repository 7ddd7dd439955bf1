"""The notification log: an append-only events table whose id is the global sequence, plus each
subscriber's tracking position, its failures and its dead letters."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .stored_event import StoredEvent
from .storage import LOCK_EVENT_LOG_SQL, JSONType, UTCDateTime, insert_ignore, lock_event_log, metadata

if TYPE_CHECKING:
    from .events import Event
    from .views import DeadLetter

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False, index=True),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("context", sa.String(32), nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sqlite_autoincrement=True,  # ids are never reused, even after the newest row is lost
)

tracking = sa.Table(
    "tracking",
    metadata,
    sa.Column("subscriber", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

subscriber_failures = sa.Table(
    "subscriber_failures",
    metadata,
    sa.Column("subscriber", sa.String(64), primary_key=True),
    sa.Column("event_id", sa.BigInteger, primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("failed_at", UTCDateTime, nullable=False),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscriber", sa.String(64), nullable=False),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("parked_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("subscriber", "event_id"),
)


def append(conn: sa.Connection, records: Sequence[tuple[Event, str]], at: datetime) -> None:
    """Append events, each with the actor who caused it, inside the caller's transaction."""
    if not records:
        return
    if conn.dialect.name == "postgresql":
        # One round trip takes the append lock and queues the NOTIFY (delivered at COMMIT, and only
        # if it commits): every statement run while holding the lock holds up every other appender.
        conn.execute(_LOCK_AND_NOTIFY, {"types": ",".join(sorted({e.event_type for e, _ in records}))})
    else:
        lock_event_log(conn)
    conn.execute(
        _APPEND,
        [
            {
                "event_type": event.event_type,
                "schema_version": event.schema_version,
                "order_id": event.order_id,
                "actor": actor,
                "context": event.context,
                "occurred_at": at,
                "payload": event.model_dump(mode="json"),
            }
            for event, actor in records
        ],
    )


def row_to_event(row: sa.Row) -> StoredEvent:
    # By position (the table's columns are StoredEvent's fields, in order): a Row's attribute
    # lookups cost several times more, and every subscriber reads every event it handles.
    return StoredEvent(*row)


assert [c.name for c in events.columns] == [f.name for f in fields(StoredEvent)], "events columns must match StoredEvent"


# PostgreSQL: every append NOTIFYs, delivered at COMMIT, on a channel of its schema's own (workers
# LISTEN), so workers of other schemas in the same database are not woken.
_CHANNEL_SQL = "'deliverycli_events_' || to_hex(hashtext(current_schema()))"
CHANNEL_QUERY = f"SELECT {_CHANNEL_SQL}"  # also run as is on a worker's own psycopg connection
_CHANNEL = sa.text(CHANNEL_QUERY)
_APPEND = events.insert()
# The payload names the appended event types, so a worker whose share handles none of them sleeps on.
_LOCK_AND_NOTIFY = sa.text(f"SELECT {LOCK_EVENT_LOG_SQL}, pg_notify({_CHANNEL_SQL}, :types)")


def notify_channel(conn: sa.Connection) -> str:
    """PostgreSQL: the channel this schema's appends NOTIFY on."""
    return conn.execute(_CHANNEL).scalar_one()


_HEAD = sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))
_POSITION = sa.select(tracking.c.position).where(tracking.c.subscriber == sa.bindparam("subscriber"))
_POSITION_FOR_UPDATE = _POSITION.with_for_update()
_POSITION_SKIP_LOCKED = _POSITION.with_for_update(skip_locked=True)
_EXISTS = sa.select(tracking.c.subscriber).where(tracking.c.subscriber == sa.bindparam("subscriber"))
_ADVANCE = (
    tracking.update()
    .where(tracking.c.subscriber == sa.bindparam("key_subscriber"), tracking.c.position == sa.bindparam("key_position"))
    .values(position=sa.bindparam("position"), updated_at=sa.bindparam("updated_at"))
)


def head(conn: sa.Connection) -> int:
    """The id of the newest event, 0 for an empty log."""
    return conn.execute(_HEAD).scalar_one()


def read(
    conn: sa.Connection,
    after: int,
    *,
    upto: int | None = None,
    types: Iterable[str] | None = None,
    order_id: str | None = None,
    limit: int = 500,
) -> list[StoredEvent]:
    """Events with ids after ``after`` (and at most ``upto``), oldest first."""
    query = sa.select(events).where(events.c.id > after).order_by(events.c.id).limit(limit)
    if upto is not None:
        query = query.where(events.c.id <= upto)
    if types is not None:
        query = query.where(events.c.event_type.in_(list(types)))
    if order_id is not None:
        query = query.where(events.c.order_id == order_id)
    return [row_to_event(row) for row in conn.execute(query)]


_PLACED = sa.select(events.c.order_id, events.c.payload).where(
    events.c.order_id.in_(sa.bindparam("order_ids", expanding=True)), events.c.event_type == "OrderPlaced"
)


def placed(conn: sa.Connection, order_ids: Iterable[str]) -> dict[str, dict]:
    """The OrderPlaced payload of each order, by order id: what the store and delivery lists copy."""
    return {row.order_id: row.payload for row in conn.execute(_PLACED, {"order_ids": list(order_ids)})}


def latest(conn: sa.Connection, count: int, order_id: str | None = None) -> list[StoredEvent]:
    """The newest ``count`` events, oldest first."""
    query = sa.select(events).order_by(events.c.id.desc()).limit(count)
    if order_id is not None:
        query = query.where(events.c.order_id == order_id)
    return [row_to_event(row) for row in reversed(conn.execute(query).all())]


def positions(conn: sa.Connection) -> dict[str, int]:
    return {row.subscriber: row.position for row in conn.execute(sa.select(tracking))}


def lock_position(conn: sa.Connection, subscriber: str, at: datetime) -> int:
    """Read a subscriber's position, holding its row until commit so no other process runs it meanwhile."""
    position = _lock_position(conn, subscriber, at, skip_locked=False)
    assert position is not None  # waited for the row
    return position


def try_lock_position(conn: sa.Connection, subscriber: str, at: datetime) -> int | None:
    """``lock_position``, but None instead of waiting when another transaction holds the row (PostgreSQL).

    That process is draining the subscriber, and sees whatever was committed before it lets go (a
    drain looks again after every batch), so skipping loses nothing. SQLite has one writer: nothing to skip.
    """
    return _lock_position(conn, subscriber, at, skip_locked=True)


def _lock_position(conn: sa.Connection, subscriber: str, at: datetime, *, skip_locked: bool) -> int | None:
    postgres = conn.dialect.name == "postgresql"
    query = (_POSITION_SKIP_LOCKED if skip_locked else _POSITION_FOR_UPDATE) if postgres else _POSITION
    position = conn.execute(query, {"subscriber": subscriber}).scalar()
    if position is None and skip_locked and postgres and conn.execute(_EXISTS, {"subscriber": subscriber}).first() is not None:
        return None  # the row exists: another process holds it
    if position is None:
        # Two processes' first drains may both get here: the second insert waits for the first and
        # then does nothing, and the second reads (and locks) the row the first one created.
        conn.execute(insert_ignore(conn, tracking).values(subscriber=subscriber, position=0, updated_at=at))
        return conn.execute(query, {"subscriber": subscriber}).scalar()
    return position


def advance(conn: sa.Connection, subscriber: str, old: int, new: int, at: datetime) -> None:
    result = conn.execute(_ADVANCE, {"key_subscriber": subscriber, "key_position": old, "position": new, "updated_at": at})
    if result.rowcount != 1:  # a unique position per subscriber: a second attempt fails harmlessly
        from .errors import ConcurrencyConflict

        raise ConcurrencyConflict(f"subscriber {subscriber} moved past {old} meanwhile")


def feed(
    conn: sa.Connection,
    after: int | None = None,
    limit: int = 200,
    *,
    order_id: str | None = None,
    event_type: str | None = None,
    context: str | None = None,
    order_ids: Sequence[sa.Select] = (),
    scan: int = 20_000,
) -> list[StoredEvent]:
    """Events for a live feed, oldest first: the newest ``limit`` when ``after`` is None, else those after it.

    ``order_ids`` (SELECTs of one order-id column each) keeps only events of orders that every one
    of them names: a customer's, a store's or a rider's feed. The caller builds them from its own
    tables, so the log imports no context. They are tested per event (EXISTS), so following costs
    what the new events cost; without ``after`` only the newest ``scan`` events are looked at, so
    a filter that matches little (a new customer) does not walk the whole log.
    """
    query = sa.select(events)
    if order_id is not None:
        query = query.where(events.c.order_id == order_id)
    for members in order_ids:
        query = query.where(members.where(members.selected_columns[0] == events.c.order_id).exists())
    if order_ids and after is None:
        query = query.where(events.c.id > head(conn) - scan)
    if event_type is not None:
        query = query.where(events.c.event_type == event_type)
    if context is not None:
        query = query.where(events.c.context == context)
    if after is None:
        return [row_to_event(row) for row in reversed(conn.execute(query.order_by(events.c.id.desc()).limit(limit)).all())]
    return [row_to_event(row) for row in conn.execute(query.where(events.c.id > after).order_by(events.c.id).limit(limit))]


def counts_per_interval(conn: sa.Connection, boundaries: Sequence[datetime]) -> list[int]:
    """Events that occurred between each pair of consecutive ``boundaries`` (ascending times).

    Ids grow with time, so the first event at or after each boundary is found by searching the
    primary key: interpolating between the ids and times already seen, bisecting when that does
    not halve the range, so a few index probes per boundary find it however large the log.
    Counts are id differences: exact on SQLite (ids are dense), close on PostgreSQL (a rolled-back
    append leaves a gap).
    """
    probe = sa.select(events.c.id, events.c.occurred_at).where(events.c.id >= sa.bindparam("x")).order_by(events.c.id).limit(1)
    lowest = conn.execute(sa.select(sa.func.min(events.c.id))).scalar()
    if lowest is None or not boundaries:
        return [0] * max(0, len(boundaries) - 1)
    newest = conn.execute(probe, {"x": head(conn)}).first()
    first_row = conn.execute(probe, {"x": lowest}).first()

    def first_at_or_after(moment: datetime, low: int, low_at: datetime, upper: int, upper_at: datetime) -> int:
        """The first id at or after ``moment``, knowing the event at ``low`` is earlier and the one at ``upper`` is not."""
        bisect = False
        while upper - low > 1:
            span_s = (upper_at - low_at).total_seconds()
            if bisect or span_s <= 0:
                x = (low + upper) // 2
            else:  # interpolate, strictly inside the range
                x = min(upper - 1, max(low + 1, low + int((moment - low_at).total_seconds() / span_s * (upper - low))))
            row = conn.execute(probe, {"x": x}).first()
            before = upper - low
            if row is None or row.occurred_at >= moment:
                upper, upper_at = x, (row.occurred_at if row is not None else upper_at)
            else:
                low, low_at = row.id, row.occurred_at
            bisect = (upper - low) * 2 > before  # interpolation did not halve the range: bisect next
        return upper

    firsts: list[int] = []
    low, low_at = lowest, first_row.occurred_at  # the event at `low` is before every boundary searched
    for moment in boundaries:
        if first_row.occurred_at >= moment:
            firsts.append(lowest)
        elif newest.occurred_at < moment:
            firsts.append(newest.id + 1)
        else:
            found = first_at_or_after(moment, low, low_at, newest.id, newest.occurred_at)
            firsts.append(found)
            low, low_at = found - 1, moment  # boundaries ascend: the next search starts here
    return [later - earlier for earlier, later in zip(firsts, firsts[1:])]


def count_failure(conn: sa.Connection, subscriber: str, event_id: int, error: str, at: datetime) -> int:
    """Record one more failed attempt of ``subscriber`` on an event; returns the attempts so far."""
    table = subscriber_failures
    key = (table.c.subscriber == subscriber) & (table.c.event_id == event_id)
    attempts = conn.execute(sa.select(table.c.attempts).where(key)).scalar()
    if attempts is None:
        conn.execute(table.insert().values(subscriber=subscriber, event_id=event_id, attempts=1, last_error=error, failed_at=at))
        return 1
    conn.execute(table.update().where(key).values(attempts=attempts + 1, last_error=error, failed_at=at))
    return attempts + 1


def park(conn: sa.Connection, subscriber: str, event: StoredEvent, error: str, attempts: int, at: datetime) -> None:
    """Record ``event`` as a dead letter of ``subscriber`` and forget its failed attempts (the caller moves the position)."""
    conn.execute(
        dead_letters.insert().values(
            subscriber=subscriber, event_id=event.id, order_id=event.order_id, event_type=event.event_type, error=error,
            attempts=attempts, parked_at=at,
        )
    )
    conn.execute(subscriber_failures.delete().where(subscriber_failures.c.subscriber == subscriber))


def lag(conn: sa.Connection, handled: Mapping[str, set[str]]) -> dict[str, int]:
    """Events each subscriber (by name, with the event types it handles) has yet to take effect on."""
    known = positions(conn)
    return {
        name: conn.execute(
            sa.select(sa.func.count()).select_from(events).where(events.c.id > known.get(name, 0), events.c.event_type.in_(sorted(types)))
        ).scalar_one()
        for name, types in handled.items()
    }


def pending(conn: sa.Connection, handled: Mapping[str, Iterable[str]]) -> list[str]:
    """The subscribers (by name, with the event types each handles) with a relevant event after the
    position the database holds for them: one statement, whatever a process has cached."""
    return list(conn.execute(_pending_query(tuple((name, tuple(sorted(types))) for name, types in handled.items()))).scalars())


@functools.lru_cache(maxsize=8)
def _pending_query(handled: tuple[tuple[str, tuple[str, ...]], ...]) -> sa.CompoundSelect:
    checks = []
    for name, types in handled:
        position = sa.func.coalesce(sa.select(tracking.c.position).where(tracking.c.subscriber == name).scalar_subquery(), 0)
        relevant = sa.select(events.c.id).where(events.c.id > position, events.c.event_type.in_(types))
        checks.append(sa.select(sa.literal(name)).where(relevant.exists()))
    return sa.union_all(*checks)


def dead_letter(row: sa.Row) -> DeadLetter:
    from .views import DeadLetter  # imported here: appending and reading events never need it

    return DeadLetter(
        id=row.id, subscriber=row.subscriber, event_id=row.event_id, order_id=row.order_id, event_type=row.event_type,
        error=row.error, attempts=row.attempts, parked_at=row.parked_at, resolved_at=row.resolved_at,
    )


def list_dead_letters(conn: sa.Connection, include_resolved: bool = False) -> list[DeadLetter]:
    """Parked events, oldest first (by default only those not yet retried successfully)."""
    table = dead_letters
    query = sa.select(table).order_by(table.c.id)
    if not include_resolved:
        query = query.where(table.c.resolved_at.is_(None))
    return [dead_letter(r) for r in conn.execute(query)]
