"""Dead letters: events a subscriber could not handle after its retries, parked so the others flow
on; an operator retries one once its cause is fixed (SPEC §6).

A webhook's dead letters (subscriber ``webhook:<id>``) are events its endpoint kept refusing: retrying
one sends that event to the endpoint again (one attempt, recorded with the others), through the
``redeliver`` the caller passes (the sending needs HTTP, which the engine does not import).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import eventlog
from .errors import Conflict, NotFound, unavailable_database
from .unit_of_work import database_errors
from .views import DeadLetter
from .webhooks import SUBSCRIBER_PREFIX as WEBHOOK

Redeliver = Callable[[str, int], "str | None"]  # (webhook id, event id) -> the error, or None when accepted

if TYPE_CHECKING:
    from .messagebus import MessageBus


def retry(bus: MessageBus, dead_letter_id: int, redeliver: Redeliver | None = None) -> DeadLetter:
    """Run a parked event through its subscriber again; on success it is marked resolved (and the
    bus drains what it unblocked). A failure that is the database's, not the handler's, is raised
    as such and counts no attempt. A webhook's dead letter is sent to its endpoint again (``redeliver``)."""
    table = eventlog.dead_letters
    with database_errors():
        with bus.db.connect() as conn:
            subscriber_name = conn.execute(sa.select(table.c.subscriber).where(table.c.id == dead_letter_id)).scalar()
        if subscriber_name is not None and subscriber_name.startswith(WEBHOOK):
            if redeliver is None:
                raise Conflict(f"dead letter {dead_letter_id} is a webhook's: retry it where webhooks can be sent (`deliverycli deadletters retry`)")
            return _redeliver(bus, dead_letter_id, redeliver)
        with bus.unit_of_work("operator") as uow:
            row = uow.conn.execute(sa.select(table).where(table.c.id == dead_letter_id)).first()
            if row is None:
                raise NotFound(f"no dead letter {dead_letter_id}")
            if row.resolved_at is not None:
                raise Conflict(f"dead letter {dead_letter_id} was already retried successfully")
            subscriber = next((s for s in bus.subscribers if s.name == row.subscriber), None)
            if subscriber is None:
                raise NotFound(f"dead letter {dead_letter_id} names an unknown subscriber {row.subscriber}")
            event = eventlog.read(uow.conn, row.event_id - 1, upto=row.event_id, limit=1)[0]
            uow.actor = f"system:{subscriber.name}"
            try:
                subscriber.handlers[event.event_type](event, uow)
            except Exception as error:  # noqa: BLE001
                uow.rollback()
                if (unavailable := unavailable_database(error)) is not None:
                    raise unavailable from error
                with bus.db.begin() as conn:
                    conn.execute(
                        table.update().where(table.c.id == dead_letter_id).values(attempts=table.c.attempts + 1, error=f"{type(error).__name__}: {error}")
                    )
                raise Conflict(f"retry of dead letter {dead_letter_id} failed again: {error}") from error
            uow.conn.execute(table.update().where(table.c.id == dead_letter_id).values(resolved_at=uow.now))
            uow.commit()
        bus.drain()
    return eventlog.dead_letter(row).model_copy(update={"resolved_at": uow.now})


def _redeliver(bus: MessageBus, dead_letter_id: int, redeliver: Redeliver) -> DeadLetter:
    """Send a webhook's parked event once more; resolved when the endpoint accepts it."""
    table = eventlog.dead_letters
    with bus.db.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == dead_letter_id)).one()
    if row.resolved_at is not None:
        raise Conflict(f"dead letter {dead_letter_id} was already retried successfully")
    error = redeliver(row.subscriber.removeprefix(WEBHOOK), row.event_id)
    now = bus.clock.now()
    with bus.db.begin() as conn:
        if error is not None:
            conn.execute(table.update().where(table.c.id == dead_letter_id).values(attempts=table.c.attempts + 1, error=error))
        else:
            conn.execute(table.update().where(table.c.id == dead_letter_id, table.c.resolved_at.is_(None)).values(resolved_at=now))
    if error is not None:
        raise Conflict(f"retry of dead letter {dead_letter_id} failed again: {error}")
    return eventlog.dead_letter(row).model_copy(update={"resolved_at": now, "attempts": row.attempts + 1})
