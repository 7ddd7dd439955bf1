"""Delivery: the delivery list and rider assignment. Of two riders racing for one delivery,
exactly one wins: the first committed pickup; the other is told who was faster."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from . import catalog, eventlog
from .commands import CompleteDelivery, PickUpDelivery
from .errors import ConcurrencyConflict, Conflict, IllegalTransition, NotFound, NotPermitted
from .events import DeliveryCompleted, DeliveryPickedUp, DeliveryRequested, Event, StoredEvent
from .storage import UTCDateTime, metadata
from .unit_of_work import UnitOfWork


class DeliveryStatus(StrEnum):
    AVAILABLE = "AVAILABLE"
    PICKED_UP = "PICKED_UP"
    COMPLETED = "COMPLETED"


D = DeliveryStatus

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("store_id", sa.String(64), nullable=False),
    sa.Column("address", sa.String(500), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rider_id", sa.String(64), nullable=True),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("picked_up_at", UTCDateTime, nullable=True),
    sa.Column("completed_at", UTCDateTime, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("ix_deliveries_status_requested", "status", "requested_at"),
    sa.Index("ix_deliveries_rider_status", "rider_id", "status"),
)


@dataclass
class Delivery:
    order_id: str
    status: DeliveryStatus
    rider_id: str | None
    version: int
    events: list[Event] = field(default_factory=list)

    def pick_up(self, rider_id: str) -> None:
        if self.status is not D.AVAILABLE:
            if self.rider_id == rider_id:
                raise Conflict(f"you already picked up order {self.order_id}")
            raise Conflict(f"order {self.order_id} was already picked up by another rider ({self.rider_id})")
        self.status = D.PICKED_UP
        self.rider_id = rider_id
        self.events.append(DeliveryPickedUp(order_id=self.order_id, rider_id=rider_id))

    def complete(self, rider_id: str) -> None:
        if self.rider_id is None:
            raise IllegalTransition("delivery", self.order_id, self.status, "complete it: no rider has picked it up yet", [D.PICKED_UP.value])
        if self.rider_id != rider_id:
            raise NotPermitted(f"only the rider who picked up order {self.order_id} may complete it (it is with rider {self.rider_id})")
        if self.status is not D.PICKED_UP:
            raise IllegalTransition("delivery", self.order_id, self.status, "complete it", [])
        self.status = D.COMPLETED
        self.events.append(DeliveryCompleted(order_id=self.order_id, rider_id=rider_id))


_ADD = deliveries.insert()
_GET = sa.select(deliveries).where(deliveries.c.order_id == sa.bindparam("order_id")).with_for_update()


_SAVE = deliveries.update().where(deliveries.c.order_id == sa.bindparam("key_id"), deliveries.c.version == sa.bindparam("key_version"))
_SAVED = {"status": sa.bindparam("status"), "rider_id": sa.bindparam("rider_id"), "version": sa.bindparam("version")}
_PICKED_UP = _SAVE.values(**_SAVED, picked_up_at=sa.bindparam("at"))
_COMPLETED = _SAVE.values(**_SAVED, completed_at=sa.bindparam("at"))


def get(conn: sa.Connection, order_id: str) -> Delivery:
    row = conn.execute(_GET, {"order_id": order_id}).first()
    if row is None:
        raise NotFound(f"no delivery for order {order_id!r} (unknown, or not ready for pickup yet)")
    return Delivery(row.order_id, D(row.status), row.rider_id, row.version)


def save(uow: UnitOfWork, delivery: Delivery) -> None:
    picked_up = delivery.status is D.PICKED_UP
    result = uow.conn.execute(
        _PICKED_UP if picked_up else _COMPLETED,
        {
            "key_id": delivery.order_id, "key_version": delivery.version, "status": delivery.status.value,
            "rider_id": delivery.rider_id, "version": delivery.version + 1, "at": uow.now,
        },
    )
    if result.rowcount != 1:
        raise ConcurrencyConflict(f"delivery {delivery.order_id} changed meanwhile")
    delivery.version += 1
    uow.collect(delivery)


def _act(bus: Any, order_id: str, rider_id: str, action: str) -> dict[str, Any]:
    with bus.unit_of_work(actor=f"rider:{rider_id}") as uow:
        if action == "pick_up":  # any rider may pick up: check this one exists
            catalog.get_rider(uow.conn, rider_id)
        with catalog.known_if_refused(uow.conn, "rider", rider_id):  # only its rider completes a delivery
            delivery = get(uow.conn, order_id)
            getattr(delivery, action)(rider_id)
        save(uow, delivery)
        uow.commit()
    return {"id": delivery.order_id, "order_id": delivery.order_id, "status": delivery.status.value, "rider_id": delivery.rider_id}


def pick_up(cmd: PickUpDelivery, bus: Any) -> dict[str, Any]:
    return _act(bus, cmd.order_id, cmd.rider_id, "pick_up")


def complete(cmd: CompleteDelivery, bus: Any) -> dict[str, Any]:
    return _act(bus, cmd.order_id, cmd.rider_id, "complete")


def _requested(event: StoredEvent, uow: UnitOfWork) -> None:
    apply_batch([event], uow)


HANDLERS = {"CookingFinished": _requested}


def apply_batch(events: list[StoredEvent], uow: UnitOfWork) -> None:
    """Open a delivery for each order whose cooking finished, copying where it goes from OrderPlaced."""
    placed = eventlog.placed(uow.conn, [e.order_id for e in events])
    rows = []
    for event in events:
        if event.order_id not in placed:
            raise NotFound(f"the event log has no OrderPlaced for order {event.order_id}")
        p = placed[event.order_id]
        rows.append(
            {
                "order_id": event.order_id, "store_id": p["store_id"], "address": p["address"], "status": D.AVAILABLE.value,
                "rider_id": None, "requested_at": uow.now, "version": 1,
            }
        )
        uow.record(DeliveryRequested(order_id=event.order_id, store_id=p["store_id"], address=p["address"]))
    uow.conn.execute(_ADD, rows)


def delivery_row(r: sa.Row) -> dict[str, Any]:
    return {
        "id": r.order_id,
        "order_id": r.order_id,
        "store_id": r.store_id,
        "address": r.address,
        "status": r.status,
        "rider_id": r.rider_id,
        "requested_at": r.requested_at.isoformat(),
        "picked_up_at": r.picked_up_at.isoformat() if r.picked_up_at else None,
        "completed_at": r.completed_at.isoformat() if r.completed_at else None,
    }


def list_deliveries(conn: sa.Connection, available: bool = False, rider_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    query = sa.select(deliveries)
    if available:
        query = query.where(deliveries.c.status == D.AVAILABLE.value)
    if rider_id is not None:
        catalog.get_rider(conn, rider_id)
        query = query.where(deliveries.c.rider_id == rider_id)
    query = query.order_by(deliveries.c.requested_at.desc(), deliveries.c.order_id.desc()).limit(limit)
    return [delivery_row(r) for r in conn.execute(query)]


def rider_deliveries(conn: sa.Connection, rider_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """A rider's deliveries on the road (all of them), then the most recently completed ones.

    The completed ones come newest first by insertion order (a delivery row is inserted when it
    is requested): on SQLite that is the rowid, which the (rider_id, status) index already holds
    in order, so this reads ``limit`` rows however many deliveries the rider has made.
    """
    catalog.get_rider(conn, rider_id)
    mine = deliveries.c.rider_id == rider_id
    newest = sa.literal_column("deliveries.rowid").desc() if conn.dialect.name == "sqlite" else deliveries.c.requested_at.desc()
    active = conn.execute(sa.select(deliveries).where(mine, deliveries.c.status == D.PICKED_UP.value).order_by(newest)).all()
    done = conn.execute(sa.select(deliveries).where(mine, deliveries.c.status == D.COMPLETED.value).order_by(newest).limit(max(0, limit - len(active)))).all()
    return [delivery_row(r) for r in [*active, *done]]
