"""Our record of each order's payment (the ``payments`` table), and the refund step of the cancel saga."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..errors import NotFound
from ..events import PaymentApproved, PaymentDeclined, PaymentRefunded, StoredEvent
from ..storage import UTCDateTime, metadata
from ..views import PaymentView
from .port import CardDeclined, GatewayUnavailable

if TYPE_CHECKING:
    from ..messagebus import UnitOfWorkFactory
    from ..unit_of_work import UnitOfWork
    from .service import ChargeOutcome, PaymentService

log = logging.getLogger(__name__)

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

# Payments whose outcome the provider could not confirm: checked with it later (``reconcile``).
payment_reconciliations = sa.Table(
    "payment_reconciliations",
    metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("checked_at", UTCDateTime, nullable=True),
    sa.Column("result", sa.String(200), nullable=True),
    sa.Index("ix_payment_reconciliations_due", "checked_at", "due_at"),
)

_RECORD_CHARGE = payments.insert()
_FOR_REFUND = sa.select(payments).where(payments.c.order_id == sa.bindparam("order_id")).with_for_update()


class PaymentRecords:
    """The payments table within one unit of work (``uow.payments``)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def record_charge(self, order_id: str, amount: int, outcome: ChargeOutcome, check_after_s: float = 0.0) -> None:
        """Record a charge's outcome and its event (PaymentApproved or PaymentDeclined); an outcome
        the provider could not confirm is also scheduled to be checked with it after ``check_after_s``."""
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
        if outcome.reconcile:
            due = self.uow.now + timedelta(seconds=check_after_s)
            self.uow.conn.execute(payment_reconciliations.insert().values(order_id=order_id, due_at=due))
        if outcome.approved:
            self.uow.record(PaymentApproved(order_id=order_id, amount=amount, charge_id=outcome.charge_id or "", card_suffix=outcome.card_suffix))
        else:
            self.uow.record(PaymentDeclined(order_id=order_id, amount=amount, reason=outcome.reason, unavailable=outcome.unavailable))

    def refund_late_charge(self, order_id: str, service: PaymentService) -> None:
        """Give back a charge made after the order was given up on (recorded as not charged), once."""
        refund_id = service.refund(order_id, self._amount(order_id))
        self.uow.conn.execute(payments.update().where(payments.c.order_id == order_id).values(refund_id=refund_id, refunded_at=self.uow.now))

    def _amount(self, order_id: str) -> int:
        return self.uow.conn.execute(sa.select(payments.c.amount).where(payments.c.order_id == order_id)).scalar_one()

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


def reconcile(db: sa.Engine, unit_of_work: UnitOfWorkFactory, service: PaymentService, now: datetime, limit: int = 20) -> list[str]:
    """Check with the provider the payments whose outcome it could not confirm and that are due (at
    most ``limit``): void the key, or refund (once: the provider refunds a key once) the late charge
    it made. Returns the orders checked; one the provider cannot be asked about now stays for later."""
    with db.connect() as conn, conn.execution_options(readonly=True).begin():
        due = list(conn.execute(
            sa.select(payment_reconciliations.c.order_id).where(
                payment_reconciliations.c.checked_at.is_(None), payment_reconciliations.c.due_at <= now
            ).order_by(payment_reconciliations.c.due_at).limit(limit)
        ).scalars())
    checked = []
    for order_id in due:
        try:
            charged = service.void(order_id)
            if charged is not None and charged.refund_id is None:
                refund_id, result = service.refund(order_id, charged.amount), f"refunded a late charge ({charged.charge_id})"
            elif charged is not None:
                refund_id, result = charged.refund_id, f"a late charge ({charged.charge_id}) was refunded already"
            else:
                refund_id, result = None, "not charged; its key is voided"
        except (GatewayUnavailable, CardDeclined) as exc:
            log.warning("payment of %s could not be checked with the provider now: %s", order_id, exc)
            continue
        with unit_of_work("system:reconciliation") as uow:
            if refund_id is not None:
                uow.conn.execute(payments.update().where(payments.c.order_id == order_id).values(refund_id=refund_id, refunded_at=uow.now))
            uow.conn.execute(
                payment_reconciliations.update().where(payment_reconciliations.c.order_id == order_id).values(checked_at=uow.now, result=result)
            )
            uow.commit()
        checked.append(order_id)
    return checked


def awaiting_reconciliation(conn: sa.Connection) -> int:
    """Payments still to be checked with the provider."""
    return conn.execute(
        sa.select(sa.func.count()).select_from(payment_reconciliations).where(payment_reconciliations.c.checked_at.is_(None))
    ).scalar_one()


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
