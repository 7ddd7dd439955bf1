"""The synchronous payment call of SPEC §6: a timeout, a circuit breaker shared by every process,
and the order id as the idempotency key of every charge and refund."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pybreaker
import sqlalchemy as sa

from ..clock import Clock
from ..errors import PaymentFailed
from ..views import Breaker
from . import breaker
from .breaker_storage import DatabaseBreakerStorage
from .port import CardDeclined, GatewayCharge, GatewayUnavailable, PaymentGateway


log = logging.getLogger(__name__)

# The service's own deadline on a call is the payment timeout plus this: the provider's own timeout
# normally answers first; this bounds a call that hangs past it (a stalled process, a silent peer).
DEADLINE_GRACE_S = 0.25
NOT_CHARGED = "you were not charged"


@dataclass(frozen=True)
class ChargeOutcome:
    """What a charge came to: approved (with the provider's charge id), declined, or unavailable.

    ``reconcile``: the provider's answer is unknown (the call was cut off and its key could not be
    voided), so the payment must be checked with the provider later and a late charge refunded.
    """

    approved: bool
    card_suffix: str
    charge_id: str | None = None
    reason: str = ""
    unavailable: bool = False
    reconcile: bool = False


def within_deadline(seconds: float, call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)`` on a daemon thread; GatewayUnavailable if it has not answered in ``seconds``
    (the thread is left to finish on its own: a hung call never holds the caller, nor its exit)."""
    answer: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            answer["value"] = call(*args)
        except BaseException as error:  # noqa: BLE001 - handed to the caller as it is
            answer["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, name="payment-call", daemon=True).start()
    if not done.wait(seconds):
        raise GatewayUnavailable(f"no answer within {seconds - DEADLINE_GRACE_S:g}s")
    if "error" in answer:
        raise answer["error"]
    return answer["value"]


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

    def may_call_provider(self) -> bool:
        """False while the breaker is open and cooling down: no call should reach the provider."""
        with self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            return self._cooling_down(breaker.read(conn)) == 0

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
                charged = self.breaker.call(self._call, self.gateway.charge, order_id, amount, card, self.timeout_s)
        except CardDeclined as exc:
            return ChargeOutcome(False, suffix, reason=f"payment declined: {exc}")
        except pybreaker.CircuitBreakerError:
            return ChargeOutcome(False, suffix, reason="payment service unavailable: the circuit breaker is open; " + NOT_CHARGED, unavailable=True)
        except GatewayUnavailable as exc:
            return self._after_no_answer(order_id, suffix, f"payment service unavailable: {exc}")
        return ChargeOutcome(True, charged.card_suffix, charge_id=charged.charge_id)

    def _call(self, call: Callable[..., Any], *args: Any) -> Any:
        return within_deadline(self.timeout_s + DEADLINE_GRACE_S, call, *args)

    def _after_no_answer(self, order_id: str, suffix: str, reason: str) -> ChargeOutcome:
        """A charge with no clear answer may still land at the provider: void its key, so "not
        charged" is true for good, or learn that it was charged after all."""
        try:
            charged = self.void(order_id)
        except (GatewayUnavailable, CardDeclined) as exc:
            log.warning("payment of %s: its key could not be voided (%s); it will be checked with the provider", order_id, exc)
            return ChargeOutcome(False, suffix, reason=f"{reason}; the payment will be checked with the provider", unavailable=True, reconcile=True)
        if charged is not None:
            return ChargeOutcome(True, charged.card_suffix, charge_id=charged.charge_id)
        return ChargeOutcome(False, suffix, reason=f"{reason}; {NOT_CHARGED}", unavailable=True)

    def recover(self, order_id: str) -> ChargeOutcome | None:
        """The outcome of a charge whose caller crashed: void its key at the provider (so no late
        charge can land), or take the charge it made. None when the provider cannot be asked now:
        the order stays pending for a later try."""
        try:
            charged = self.void(order_id)
        except (GatewayUnavailable, CardDeclined) as exc:
            log.warning("payment of %s was interrupted and the provider cannot be asked now (%s); trying later", order_id, exc)
            return None
        if charged is None:
            return ChargeOutcome(False, "????", reason=f"payment was interrupted and not completed; {NOT_CHARGED}", unavailable=True)
        return ChargeOutcome(True, charged.card_suffix, charge_id=charged.charge_id)

    def void(self, order_id: str) -> GatewayCharge | None:
        """Void the order's key at the provider (within the deadline): the charge, if one was made."""
        return self._call(self.gateway.void, order_id, self.timeout_s)

    def refund(self, order_id: str, amount: int) -> str:
        """Refund the order's charge once; returns the provider's refund id."""
        return self.gateway.refund(order_id, amount, self.timeout_s)
