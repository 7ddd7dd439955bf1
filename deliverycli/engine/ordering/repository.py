"""The ordering context's tables and its repository (``uow.orders``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import ConcurrencyConflict, NotFound
from ..events import OrderLine
from ..lifecycle import OrderStatus
from ..storage import UTCDateTime, metadata
from ..views import OrderView
from .model import Order

if TYPE_CHECKING:
    from ..unit_of_work import UnitOfWork

S = OrderStatus

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False, index=True),
    sa.Column("store_id", sa.String(64), nullable=False, index=True),
    sa.Column("address", sa.String(500), nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("resume_status", sa.String(32), nullable=True),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("placed_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=True, unique=True, index=True),
    sa.Column("request_fingerprint", sa.String(64), nullable=True),  # of a keyed placement: validation.request_fingerprint
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("menu_item_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("unit_price", sa.Integer, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
)

order_numbers = sa.Table(
    "order_numbers",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("last", sa.BigInteger, nullable=False),
)

# Hot statements are built once: constructing them per call costs more than SQLite takes to run them.
_GET = sa.select(orders).where(orders.c.id == sa.bindparam("order_id"))
_GET_FOR_UPDATE = _GET.with_for_update()
_GET_MANY_FOR_UPDATE = (
    sa.select(orders).where(orders.c.id.in_(sa.bindparam("order_ids", expanding=True))).order_by(orders.c.id).with_for_update()
)
_LINES = sa.select(order_lines).where(order_lines.c.order_id == sa.bindparam("order_id")).order_by(order_lines.c.line_no)
_SAVE = (
    orders.update()
    .where(orders.c.id == sa.bindparam("key_id"), orders.c.version == sa.bindparam("key_version"))
    .values(
        status=sa.bindparam("status"),
        resume_status=sa.bindparam("resume_status"),
        reason=sa.bindparam("reason"),
        updated_at=sa.bindparam("updated_at"),
        version=sa.bindparam("version"),
    )
)
_BY_IDEMPOTENCY_KEY = sa.select(orders.c.id).where(orders.c.idempotency_key == sa.bindparam("key"))
_ADD = orders.insert()
_ADD_LINES = order_lines.insert()
_NEXT_NUMBER = (
    order_numbers.update()
    .where(order_numbers.c.name == "order")
    .values(last=order_numbers.c.last + 1)
    .returning(order_numbers.c.last)
)


def get(conn: sa.Connection, order_id: str, *, for_update: bool = True, with_lines: bool = False) -> Order:
    """Load an order (its lines only if asked); by default lock its row since the caller means to change it."""
    row = conn.execute(_GET_FOR_UPDATE if for_update else _GET, {"order_id": order_id}).first()
    if row is None:
        raise NotFound(f"no order {order_id!r}")
    lines = [
        OrderLine(menu_item_id=l.menu_item_id, name=l.name, unit_price=l.unit_price, quantity=l.quantity)
        for l in conn.execute(_LINES, {"order_id": order_id})
    ] if with_lines else []
    return _order(row, lines)


def _order(row: sa.Row, lines: list[OrderLine]) -> Order:
    # Unpacked by position (the table's column order): a Row's attribute lookups cost more.
    id_, customer_id, store_id, address, total, currency, status, resume_status, reason, placed_at, _, version, key, fingerprint = row
    return Order(
        id=id_, customer_id=customer_id, store_id=store_id, address=address, lines=lines, total=total, currency=currency,
        status=S(status), placed_at=placed_at, resume_status=S(resume_status) if resume_status else None, reason=reason,
        version=version, idempotency_key=key, request_fingerprint=fingerprint,
    )


def _save_params(order: Order, now: datetime) -> dict[str, Any]:
    return {
        "key_id": order.id,
        "key_version": order.version,
        "status": order.status.value,
        "resume_status": order.resume_status.value if order.resume_status else None,
        "reason": order.reason,
        "updated_at": now,
        "version": order.version + 1,
    }


class OrderRepository:
    """Orders in the ordering context's tables, loaded and saved within one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def get(self, order_id: str, *, lock: bool = True, with_lines: bool = False) -> Order:
        """The order (NotFound if there is none); locked for this unit unless ``lock=False``."""
        return get(self.uow.conn, order_id, for_update=lock, with_lines=with_lines)

    def get_many(self, order_ids: list[str]) -> dict[str, Order]:
        """Several orders, locked, without their lines, by id (missing ids are absent)."""
        return {row.id: _order(row, []) for row in self.uow.conn.execute(_GET_MANY_FOR_UPDATE, {"order_ids": sorted(set(order_ids))})}

    def by_idempotency_key(self, key: str) -> Order | None:
        """The order a placement with ``key`` made, with its lines, if any."""
        order_id = self.uow.conn.execute(_BY_IDEMPOTENCY_KEY, {"key": key}).scalar()
        return self.get(order_id, lock=False, with_lines=True) if order_id else None

    def next_id(self) -> str:
        """The next readable order id; the counter row (created by the first migration) serialises writers."""
        number = self.uow.conn.execute(_NEXT_NUMBER).scalar_one()
        return f"ord-{number:06d}"

    def add(self, order: Order) -> None:
        """Insert a new order and its lines; its events go with the unit."""
        conn = self.uow.conn
        conn.execute(
            _ADD,
            {
                "id": order.id, "customer_id": order.customer_id, "store_id": order.store_id, "address": order.address,
                "total": order.total, "currency": order.currency, "status": order.status.value, "resume_status": None,
                "reason": None, "placed_at": order.placed_at, "updated_at": order.placed_at, "version": 1,
                "idempotency_key": order.idempotency_key, "request_fingerprint": order.request_fingerprint,
            },
        )
        conn.execute(
            _ADD_LINES,
            [
                {"order_id": order.id, "line_no": n, "menu_item_id": l.menu_item_id, "name": l.name, "unit_price": l.unit_price, "quantity": l.quantity}
                for n, l in enumerate(order.lines, start=1)
            ],
        )
        order.version = 1
        self.uow.collect(order)

    def save(self, order: Order) -> None:
        """Write the order if nobody changed it since it was read (optimistic concurrency)."""
        if self.uow.conn.execute(_SAVE, _save_params(order, self.uow.now)).rowcount != 1:
            raise ConcurrencyConflict(f"order {order.id} changed meanwhile")
        order.version += 1
        self.uow.collect(order)

    def save_many(self, changed: list[Order]) -> None:
        """Write several orders in one statement, each only if nobody changed it since it was read."""
        conn = self.uow.conn
        result = conn.execute(_SAVE, [_save_params(order, self.uow.now) for order in changed])
        if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(changed):
            raise ConcurrencyConflict("orders changed meanwhile")
        for order in changed:
            order.version += 1
            self.uow.collect(order)


def order_view(conn: sa.Connection, order_id: str) -> OrderView:
    """An order with its lines, as the ordering context holds it."""
    return get(conn, order_id, for_update=False, with_lines=True).view()


def pending_payment_before(conn: sa.Connection, cutoff: datetime) -> list[str]:
    """Orders still waiting for their payment's outcome that were placed before ``cutoff``."""
    return list(conn.execute(sa.select(orders.c.id).where(orders.c.status == S.PENDING_PAYMENT.value, orders.c.placed_at < cutoff)).scalars())


def count_pending_payments(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(orders).where(orders.c.status == S.PENDING_PAYMENT.value)).scalar_one()
