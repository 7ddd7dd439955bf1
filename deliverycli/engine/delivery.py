"""Delivery: the delivery list and rider assignment. Of two riders racing for one delivery,
exactly one wins: the first committed pickup; the other is told who was faster."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import catalog, eventlog
from .commands import AlertPickupOverdue, CompleteDelivery, PickUpDelivery
from .errors import ConcurrencyConflict, Conflict, IllegalTransition, NotFound, NotPermitted
from .events import DeliveryCompleted, DeliveryPickedUp, DeliveryRequested, Event, PickupOverdue, StoredEvent
from .lifecycle import DeliveryStatus
from .storage import UTCDateTime, metadata
from .views import DeliveryState, DeliveryView

if TYPE_CHECKING:
    from .messagebus import UnitOfWorkFactory
    from .unit_of_work import UnitOfWork

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
    """An order on the delivery list, and the rider who took it."""

    order_id: str
    status: DeliveryStatus
    rider_id: str | None
    version: int
    events: list[Event] = field(default_factory=list)

    def pick_up(self, rider_id: str) -> None:
        """Take the delivery: the first rider wins; another is told who was faster."""
        if self.status is not D.AVAILABLE:
            if self.rider_id == rider_id:
                raise Conflict(f"you already picked up order {self.order_id}")
            raise Conflict(f"order {self.order_id} was already picked up by another rider ({self.rider_id})")
        self.status = D.PICKED_UP
        self.rider_id = rider_id
        self.events.append(DeliveryPickedUp(order_id=self.order_id, rider_id=rider_id))

    def complete(self, rider_id: str) -> None:
        """Hand the food over (only the rider who picked it up)."""
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


class DeliveryRepository:
    """The delivery list within one unit of work (``uow.deliveries``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def get(self, order_id: str) -> Delivery:
        """The delivery, locked for this unit; NotFound for an unknown order or one not ready yet."""
        row = self.uow.conn.execute(_GET, {"order_id": order_id}).first()
        if row is None:
            raise NotFound(f"no delivery for order {order_id!r} (unknown, or not ready for pickup yet)")
        return Delivery(row.order_id, D(row.status), row.rider_id, row.version)

    def save(self, delivery: Delivery) -> None:
        """Write the delivery if nobody changed it since it was read (optimistic concurrency)."""
        picked_up = delivery.status is D.PICKED_UP
        result = self.uow.conn.execute(
            _PICKED_UP if picked_up else _COMPLETED,
            {
                "key_id": delivery.order_id, "key_version": delivery.version, "status": delivery.status.value,
                "rider_id": delivery.rider_id, "version": delivery.version + 1, "at": self.uow.now,
            },
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict(f"delivery {delivery.order_id} changed meanwhile")
        delivery.version += 1
        self.uow.collect(delivery)

    def request(self, events: list[StoredEvent]) -> None:
        """Open a delivery for each order whose cooking finished, copying where it goes from OrderPlaced."""
        placed = eventlog.placed(self.uow.conn, [e.order_id for e in events])
        rows = []
        for event in events:
            if event.order_id not in placed:
                raise NotFound(f"the event log has no OrderPlaced for order {event.order_id}")
            p = placed[event.order_id]
            rows.append(
                {
                    "order_id": event.order_id, "store_id": p["store_id"], "address": p["address"], "status": D.AVAILABLE.value,
                    "rider_id": None, "requested_at": self.uow.now, "version": 1,
                }
            )
            self.uow.record(DeliveryRequested(order_id=event.order_id, store_id=p["store_id"], address=p["address"]))
        self.uow.conn.execute(_ADD, rows)


def _act(unit_of_work: UnitOfWorkFactory, order_id: str, rider_id: str, action: str) -> DeliveryState:
    with unit_of_work(f"rider:{rider_id}") as uow:
        if action == "pick_up":  # any rider may pick up: check this one exists
            uow.catalog.rider(rider_id)
        with uow.catalog.known_if_refused("rider", rider_id):  # only its rider completes a delivery
            delivery = uow.deliveries.get(order_id)
            getattr(delivery, action)(rider_id)
        uow.deliveries.save(delivery)
        uow.commit()
    return DeliveryState(id=delivery.order_id, order_id=delivery.order_id, status=delivery.status, rider_id=delivery.rider_id)


def pick_up(cmd: PickUpDelivery, unit_of_work: UnitOfWorkFactory) -> DeliveryState:
    return _act(unit_of_work, cmd.order_id, cmd.rider_id, "pick_up")


def complete(cmd: CompleteDelivery, unit_of_work: UnitOfWorkFactory) -> DeliveryState:
    return _act(unit_of_work, cmd.order_id, cmd.rider_id, "complete")


def alert_pickup_overdue(cmd: AlertPickupOverdue, unit_of_work: UnitOfWorkFactory) -> DeliveryState:
    """The pickup alert: a delivery still waiting for a rider is announced overdue (``PickupOverdue``,
    which tells the store and operations); refused (Conflict) once a rider has taken it."""
    with unit_of_work(cmd.actor) as uow:
        delivery = uow.deliveries.get(cmd.order_id)  # locked: a pickup racing the alert waits, or wins first
        if delivery.status is not D.AVAILABLE:
            raise Conflict(f"order {cmd.order_id} was already picked up by rider {delivery.rider_id}")
        row = uow.conn.execute(sa.select(deliveries.c.store_id, deliveries.c.requested_at).where(deliveries.c.order_id == cmd.order_id)).one()
        waited = max(0, int((uow.now - row.requested_at).total_seconds()))
        uow.record(PickupOverdue(order_id=cmd.order_id, store_id=row.store_id, waited_s=waited))
        uow.commit()
    return DeliveryState(id=delivery.order_id, order_id=delivery.order_id, status=delivery.status, rider_id=delivery.rider_id)


def _requested(event: StoredEvent, uow: UnitOfWork) -> None:
    uow.deliveries.request([event])


def apply_batch(events: list[StoredEvent], uow: UnitOfWork) -> None:
    """Open the deliveries of a whole batch of finished orders in one statement."""
    uow.deliveries.request(events)


HANDLERS = {"CookingFinished": _requested}


def delivery_view(r: sa.Row) -> DeliveryView:
    return DeliveryView(
        id=r.order_id, order_id=r.order_id, store_id=r.store_id, address=r.address, status=r.status, rider_id=r.rider_id,
        requested_at=r.requested_at, picked_up_at=r.picked_up_at, completed_at=r.completed_at,
    )


def list_deliveries(conn: sa.Connection, available: bool = False, rider_id: str | None = None, limit: int = 200) -> list[DeliveryView]:
    """Deliveries newest first: only the available ones, or only a rider's."""
    query = sa.select(deliveries)
    if available:
        query = query.where(deliveries.c.status == D.AVAILABLE.value)
    if rider_id is not None:
        catalog.get_rider(conn, rider_id)
        query = query.where(deliveries.c.rider_id == rider_id)
    query = query.order_by(deliveries.c.requested_at.desc(), deliveries.c.order_id.desc()).limit(limit)
    return [delivery_view(r) for r in conn.execute(query)]


def rider_deliveries(conn: sa.Connection, rider_id: str, limit: int = 100) -> list[DeliveryView]:
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
    return [delivery_view(r) for r in [*active, *done]]
