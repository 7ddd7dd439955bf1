"""Our record of each order's payment (the ``payments`` table), and the refund step of the cancel saga."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..errors import NotFound
from ..events import PaymentApproved, PaymentDeclined, PaymentRefunded, StoredEvent
from ..storage import UTCDateTime, metadata
from ..views import PaymentView

if TYPE_CHECKING:
    from ..unit_of_work import UnitOfWork
    from .service import ChargeOutcome, PaymentService

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # APPROVED, DECLINED, REFUNDED
    sa.Column("charge_id", sa.String(64), nullable=True),
    sa.Column("refund_id", sa.String(64), nullable=True),
    sa.Column("card_suffix", sa.String(4), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("refunded_at", UTCDateTime, nullable=True),
)

_RECORD_CHARGE = payments.insert()
_FOR_REFUND = sa.select(payments).where(payments.c.order_id == sa.bindparam("order_id")).with_for_update()


class PaymentRecords:
    """The payments table within one unit of work (``uow.payments``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def record_charge(self, order_id: str, amount: int, outcome: ChargeOutcome) -> None:
        """Record a charge's outcome and its event (PaymentApproved or PaymentDeclined)."""
        self.uow.conn.execute(
            _RECORD_CHARGE,
            {
                "order_id": order_id,
                "amount": amount,
                "status": "APPROVED" if outcome.approved else "DECLINED",
                "charge_id": outcome.charge_id,
                "card_suffix": outcome.card_suffix,
                "reason": None if outcome.approved else outcome.reason,
                "created_at": self.uow.now,
            },
        )
        if outcome.approved:
            self.uow.record(PaymentApproved(order_id=order_id, amount=amount, charge_id=outcome.charge_id or "", card_suffix=outcome.card_suffix))
        else:
            self.uow.record(PaymentDeclined(order_id=order_id, amount=amount, reason=outcome.reason, unavailable=outcome.unavailable))

    def refund(self, order_id: str, service: PaymentService) -> None:
        """Refund an approved charge once (nothing charged, or refunded already: nothing to do)."""
        row = self.uow.conn.execute(_FOR_REFUND, {"order_id": order_id}).first()
        if row is None or row.status != "APPROVED":
            return
        refund_id = service.refund(order_id, row.amount)
        self.uow.conn.execute(
            payments.update().where(payments.c.order_id == order_id).values(status="REFUNDED", refund_id=refund_id, refunded_at=self.uow.now)
        )
        self.uow.record(PaymentRefunded(order_id=order_id, amount=row.amount, refund_id=refund_id))


REFUND_ON = ("StoreOrderCancelled", "StoreOrderRejected")


def refund_handlers(service: PaymentService) -> dict[str, Callable[[StoredEvent, UnitOfWork], None]]:
    """The payment side of the cancel saga: refund once when the store cancels or rejects."""

    def refund(event: StoredEvent, uow: UnitOfWork) -> None:
        uow.payments.refund(event.order_id, service)

    return dict.fromkeys(REFUND_ON, refund)


def payment_view(row: sa.Row) -> PaymentView:
    return PaymentView(
        id=row.order_id, order_id=row.order_id, amount=row.amount, status=row.status, charge_id=row.charge_id,
        refund_id=row.refund_id, card=f"**** {row.card_suffix}", reason=row.reason, created_at=row.created_at,
        refunded_at=row.refunded_at,
    )


def list_payments(conn: sa.Connection, limit: int = 100) -> list[PaymentView]:
    """The newest payments first."""
    rows = conn.execute(sa.select(payments).order_by(payments.c.created_at.desc(), payments.c.order_id.desc()).limit(limit))
    return [payment_view(r) for r in rows]


def get_payment(conn: sa.Connection, order_id: str) -> PaymentView:
    """The payment of ``order_id``; NotFound if it has none."""
    row = conn.execute(sa.select(payments).where(payments.c.order_id == order_id)).first()
    if row is None:
        raise NotFound(f"no payment for order {order_id!r}")
    return payment_view(row)
