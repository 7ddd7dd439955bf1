"""The synchronous payment call of SPEC §6: a timeout, a circuit breaker shared by every process,
and the order id as the idempotency key of every charge and refund."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta

import pybreaker
import sqlalchemy as sa

from ..clock import Clock
from ..errors import PaymentFailed
from ..views import Breaker
from . import breaker
from .breaker_storage import DatabaseBreakerStorage
from .port import CardDeclined, GatewayUnavailable, PaymentGateway


@dataclass(frozen=True)
class ChargeOutcome:
    """What a charge came to: approved (with the provider's charge id), declined, or unavailable."""

    approved: bool
    card_suffix: str
    charge_id: str | None = None
    reason: str = ""
    unavailable: bool = False


@dataclass(frozen=True)
class Admission:
    """The breaker as ``ensure_available`` read it in the order's transaction, for the charge that follows."""

    row: sa.Row | None


class PaymentService:
    """Charges, refunds and recovers payments through the provider behind the breaker."""

    def __init__(
        self, db: sa.Engine, gateway: PaymentGateway, clock: Clock, *, timeout_s: float, fail_max: int, reset_timeout_s: float
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.clock = clock
        self.timeout_s = timeout_s
        self.fail_max = fail_max
        self.reset_timeout_s = reset_timeout_s
        self.breaker_storage = DatabaseBreakerStorage(db, breaker.NAME, clock)

    @functools.cached_property
    def breaker(self) -> pybreaker.CircuitBreaker:
        # Built on first use: pybreaker reads the stored state as it is constructed.
        return pybreaker.CircuitBreaker(
            fail_max=self.fail_max,
            reset_timeout=self.reset_timeout_s,
            exclude=[CardDeclined],
            state_storage=self.breaker_storage,
            name=breaker.NAME,
        )

    def breaker_state(self) -> Breaker:
        with self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            return breaker.describe(breaker.read(conn), self.fail_max, self.reset_timeout_s)

    def _cooling_down(self, row: sa.Row | None) -> float:
        """Seconds an open breaker still waits before its trial call (0 when it may call)."""
        if row is None or row.state != breaker.OPEN or row.opened_at is None:
            return 0.0
        return max(0.0, (row.opened_at + timedelta(seconds=self.reset_timeout_s) - self.clock.now()).total_seconds())

    def ensure_available(self, conn: sa.Connection) -> Admission:
        """Fail fast, before any order is written, while the breaker is open and cooling down."""
        row = breaker.read(conn)
        wait = self._cooling_down(row)
        if wait > 0:
            raise PaymentFailed(
                f"payment service unavailable: the circuit breaker opened after {self.fail_max} consecutive "
                f"failures; it will try again in {wait:.0f}s. No order was placed and nothing was charged.",
                unavailable=True,
            )
        return Admission(row)

    def charge(self, order_id: str, amount: int, card: str, admission: Admission | None = None) -> ChargeOutcome:
        """Charge through the breaker; ``admission`` is what ``ensure_available`` just read, if it ran."""
        suffix = card[-4:]
        try:
            with self.breaker_storage.one_call((admission.row,) if admission is not None else None):
                row = admission.row if admission is not None else self.breaker_storage.read_row()
                if self._cooling_down(row) > 0:
                    raise pybreaker.CircuitBreakerError("the circuit breaker is open")
                if row is not None and row.state == breaker.OPEN:
                    self.breaker.half_open()  # the cool-down passed on the engine's clock: one trial call
                charged = self.breaker.call(self.gateway.charge, order_id, amount, card, self.timeout_s)
        except CardDeclined as exc:
            return ChargeOutcome(False, suffix, reason=f"payment declined: {exc}")
        except pybreaker.CircuitBreakerError:
            return ChargeOutcome(False, suffix, reason="payment service unavailable: the circuit breaker is open", unavailable=True)
        except GatewayUnavailable as exc:
            return ChargeOutcome(False, suffix, reason=f"payment service unavailable: {exc}", unavailable=True)
        return ChargeOutcome(True, charged.card_suffix, charge_id=charged.charge_id)

    def recover(self, order_id: str) -> ChargeOutcome:
        """The outcome of a charge whose caller crashed: the provider's record for the key decides."""
        charged = self.gateway.lookup(order_id)
        if charged is None:
            return ChargeOutcome(False, "????", reason="payment was interrupted and not completed; you were not charged", unavailable=True)
        return ChargeOutcome(True, charged.card_suffix, charge_id=charged.charge_id)

    def refund(self, order_id: str, amount: int) -> str:
        """Refund the order's charge once; returns the provider's refund id."""
        return self.gateway.refund(order_id, amount, self.timeout_s)

    def refund_orphan(self, order_id: str, amount: int) -> None:
        """Give back a charge made after the order was given up on (its recovery said "not charged")."""
        self.gateway.refund(order_id, amount, self.timeout_s)
