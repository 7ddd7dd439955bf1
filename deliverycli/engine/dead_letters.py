"""Dead letters: events a subscriber could not handle after its retries, parked so the others flow
on; an operator retries one once its cause is fixed (SPEC §6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import eventlog
from .errors import Conflict, NotFound, unavailable_database
from .unit_of_work import database_errors
from .views import DeadLetter

if TYPE_CHECKING:
    from .messagebus import MessageBus


def retry(bus: MessageBus, dead_letter_id: int) -> DeadLetter:
    """Run a parked event through its subscriber again; on success it is marked resolved (and the
    bus drains what it unblocked). A failure that is the database's, not the handler's, is raised
    as such and counts no attempt."""
    table = eventlog.dead_letters
    with database_errors():
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
