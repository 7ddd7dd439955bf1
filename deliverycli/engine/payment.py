"""Payment: the Payment aggregate's table, the gateway port with a simulated gateway, the circuit
breaker around it, and the refunds of the cancel saga. The order id is the idempotency key."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pybreaker
import sqlalchemy as sa

from .errors import InvalidInput, NotFound, PaymentFailed
from .events import PaymentApproved, PaymentDeclined, PaymentRefunded, StoredEvent
from .storage import UTCDateTime, insert_ignore, metadata, utcnow
from .unit_of_work import UnitOfWork

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

circuit_breakers = sa.Table(
    "circuit_breakers",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("fail_counter", sa.Integer, nullable=False),
    sa.Column("success_counter", sa.Integer, nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=True),
)

# The simulated provider's own records, in its own database (a sibling SQLite file), as an external
# gateway's would be: our transactions never hold its locks, and its schema is not ours to migrate.
gateway_metadata = sa.MetaData()
gateway_ledger = sa.Table(
    "gateway_ledger",
    gateway_metadata,
    sa.Column("idempotency_key", sa.String(64), primary_key=True),
    sa.Column("charge_id", sa.String(64), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("card_suffix", sa.String(4), nullable=False),
    sa.Column("charged_at", UTCDateTime, nullable=False),
    sa.Column("refund_id", sa.String(64), nullable=True),
    sa.Column("refunded_at", UTCDateTime, nullable=True),
)
# Keys the provider was told to refuse from now on (``void``): recovery's "you were not charged" is then true.
gateway_voids = sa.Table(
    "gateway_voids",
    gateway_metadata,
    sa.Column("idempotency_key", sa.String(64), primary_key=True),
    sa.Column("voided_at", UTCDateTime, nullable=False),
)

_BREAKER = sa.select(circuit_breakers).where(circuit_breakers.c.name == sa.bindparam("name"))
_RECORD_CHARGE = payments.insert()
_LEDGER_ADD = gateway_ledger.insert()
_LEDGER_ENTRY = sa.select(gateway_ledger).where(gateway_ledger.c.idempotency_key == sa.bindparam("key"))
_VOIDED = sa.select(gateway_voids.c.idempotency_key).where(gateway_voids.c.idempotency_key == sa.bindparam("key"))

LEDGER_CREATE_LOCK = 7_318_401  # advisory lock key serialising the ledger's creation on PostgreSQL
LEDGER_KEY_LOCK = 7_318_402  # with the key's hash: a charge and a void of one key never interleave on PostgreSQL

# Documented test cards of the simulated gateway; any other well-formed number is approved.
TEST_CARDS = {
    "4242424242424242": "approve",
    "4000000000000002": "decline",
    "4000000000009995": "decline_insufficient_funds",
    "4000000000000119": "fail",
}
DEFAULT_CARD = "4242424242424242"


class CardDeclined(Exception):
    """The issuer said no: a business answer, which does not trip the breaker."""


class GatewayUnavailable(Exception):
    """The gateway could not answer (outage, error, timeout)."""


VOIDED_MESSAGE = "the payment was cancelled"


@dataclass(frozen=True)
class GatewayCharge:
    charge_id: str
    amount: int
    card_suffix: str
    refund_id: str | None = None


class PaymentGateway(Protocol):
    """The port to a payment provider. Every call is idempotent on ``key``."""

    def charge(self, key: str, amount: int, card_number: str, timeout: float) -> GatewayCharge: ...
    def refund(self, key: str, amount: int, timeout: float) -> str: ...
    def lookup(self, key: str) -> GatewayCharge | None: ...
    def void(self, key: str, timeout: float) -> GatewayCharge | None: ...


@dataclass(frozen=True)
class ChargeOutcome:
    approved: bool
    card_suffix: str
    charge_id: str | None = None
    reason: str = ""
    unavailable: bool = False


def parse_card(card: str | None) -> str:
    if card is None:
        return DEFAULT_CARD
    digits = card.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise InvalidInput("--card must be 12 to 19 digits (spaces and dashes allowed)")
    return digits


class SimulatedGateway:
    """A deterministic stand-in for a payment provider, with fault injection.

    ``failure_rate`` makes that share of charges fail as if the provider were down (decided by the
    seed and the key, so a run can be repeated); ``latency_ms`` delays every call.
    """

    def __init__(self, engine: sa.Engine, failure_rate: float = 0.0, latency_ms: int = 0, seed: int = 0) -> None:
        self.engine = engine
        self.failure_rate = failure_rate
        self.latency_ms = latency_ms
        self.seed = seed
        self._ready = False

    def _ensure_ledger(self) -> None:
        if not self._ready:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":  # several processes' first charges: one creates, the others wait
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_CREATE_LOCK})
                gateway_metadata.create_all(conn, checkfirst=True)
            self._ready = True

    def _wait(self, timeout: float) -> None:
        latency = self.latency_ms / 1000
        if latency > timeout:
            time.sleep(timeout)
            raise GatewayUnavailable(f"no answer within {timeout:g}s")
        if latency:
            time.sleep(latency)

    def charge(self, key: str, amount: int, card_number: str, timeout: float) -> GatewayCharge:
        self._wait(timeout)
        self._ensure_ledger()
        behaviour = TEST_CARDS.get(card_number, "approve")
        fails = self.failure_rate and random.Random(f"{self.seed}:{key}").random() < self.failure_rate
        if behaviour != "approve" or fails:
            existing = self.lookup(key)  # a key charged before answers the same, whatever the card does now
            if existing is not None:
                return existing
            if self._voided(key):
                raise CardDeclined(VOIDED_MESSAGE)
            if behaviour == "fail":
                raise GatewayUnavailable("the card network reported a processing error")
            if fails:
                raise GatewayUnavailable("the payment provider is not responding")
            if behaviour == "decline":
                raise CardDeclined("the card was declined by its issuer")
            raise CardDeclined("insufficient funds")
        charge = GatewayCharge(f"ch_{key}", amount, card_number[-4:])
        try:
            with self.engine.begin() as conn:
                self._lock_key(conn, key)
                if conn.execute(_VOIDED, {"key": key}).first() is not None:
                    existing = conn.execute(_LEDGER_ENTRY, {"key": key}).first()
                    if existing is None:  # (void refuses a key charged before it, so none is both)
                        raise CardDeclined(VOIDED_MESSAGE)
                values = {"idempotency_key": key, "charge_id": charge.charge_id, "amount": amount, "card_suffix": charge.card_suffix, "charged_at": utcnow()}
                conn.execute(_LEDGER_ADD, values)  # a plain INSERT: SQLAlchemy caches it, not an ON CONFLICT one
            return charge
        except sa.exc.IntegrityError:  # the key was charged before: answer with that charge
            existing = self.lookup(key)
            assert existing is not None
            return existing

    def void(self, key: str, timeout: float) -> GatewayCharge | None:
        """Refuse any charge with ``key`` from now on; if it was charged already, return that charge
        (and void nothing). Idempotent."""
        self._wait(timeout)
        self._ensure_ledger()
        with self.engine.begin() as conn:
            self._lock_key(conn, key)
            row = conn.execute(_LEDGER_ENTRY, {"key": key}).first()
            if row is not None:
                return GatewayCharge(row.charge_id, row.amount, row.card_suffix, row.refund_id)
            conn.execute(insert_ignore(conn, gateway_voids).values(idempotency_key=key, voided_at=utcnow()))
        return None

    def _voided(self, key: str) -> bool:
        with self.engine.connect() as conn, conn.execution_options(readonly=True).begin():
            return conn.execute(_VOIDED, {"key": key}).first() is not None

    @staticmethod
    def _lock_key(conn: sa.Connection, key: str) -> None:
        # SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL's READ COMMITTED does not.
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock, hashtext(:key))"), {"lock": LEDGER_KEY_LOCK, "key": key})

    def refund(self, key: str, amount: int, timeout: float) -> str:
        self._wait(timeout)
        self._ensure_ledger()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(gateway_ledger).where(gateway_ledger.c.idempotency_key == key).with_for_update()).first()
            if row is None:
                raise NotFound(f"the gateway has no charge for {key}")
            if row.refund_id:
                return row.refund_id
            refund_id = f"re_{key}"
            conn.execute(
                gateway_ledger.update()
                .where(gateway_ledger.c.idempotency_key == key)
                .values(refund_id=refund_id, refunded_at=utcnow())
            )
            return refund_id

    def lookup(self, key: str) -> GatewayCharge | None:
        self._ensure_ledger()
        with self.engine.connect() as conn, conn.execution_options(readonly=True).begin():
            row = conn.execute(_LEDGER_ENTRY, {"key": key}).first()
        if row is None:
            return None
        return GatewayCharge(row.charge_id, row.amount, row.card_suffix, row.refund_id)


class DatabaseBreakerStorage(pybreaker.CircuitBreakerStorage):
    """Circuit-breaker state in the database, so every process (CLI, TUI, workers) shares one breaker.

    Within ``one_read()`` (one guarded call) the row is read once and kept until this storage
    writes it: pybreaker consults its storage several times per call.
    """

    _NOT_READ = object()

    def __init__(self, engine: sa.Engine, name: str) -> None:
        super().__init__(name)
        self.engine = engine
        self.key = circuit_breakers.c.name == name
        self._kept: Any = None

    @contextmanager
    def one_read(self, row: sa.Row | None | object = _NOT_READ) -> Iterator[None]:
        """Keep the row for one call: the one given (just read by the caller), else the first read."""
        self._kept = self._NOT_READ if row is self._NOT_READ else (row,)
        try:
            yield
        finally:
            self._kept = None

    def _row(self) -> sa.Row | None:
        if isinstance(self._kept, tuple):  # (row,): kept for this call
            return self._kept[0]
        with self.engine.connect() as conn, conn.execution_options(readonly=True).begin():
            row = conn.execute(_BREAKER, {"name": self.name}).first()
        if self._kept is self._NOT_READ:
            self._kept = (row,)
        return row

    def read(self, conn: sa.Connection | None = None) -> sa.Row | None:
        """The stored row, read in ``conn`` (the caller's transaction) if given."""
        return self._row() if conn is None else conn.execute(_BREAKER, {"name": self.name}).first()

    def _update(self, **values: Any) -> None:
        if self._kept is not None:
            self._kept = self._NOT_READ  # read again after our own write
        with self.engine.begin() as conn:
            if conn.execute(circuit_breakers.update().where(self.key).values(**values)).rowcount == 0:
                row = {"name": self.name, "state": pybreaker.STATE_CLOSED, "fail_counter": 0, "success_counter": 0, "opened_at": None}
                conn.execute(insert_ignore(conn, circuit_breakers).values(**(row | values)))

    @property
    def state(self) -> str:
        row = self._row()
        return row.state if row else pybreaker.STATE_CLOSED

    @state.setter
    def state(self, state: str) -> None:
        self._update(state=state)

    def increment_counter(self) -> None:
        self._update(fail_counter=circuit_breakers.c.fail_counter + 1) if self._row() else self._update(fail_counter=1)

    def reset_counter(self) -> None:
        row = self._row()
        if row is not None and row.fail_counter:
            self._update(fail_counter=0)

    def increment_success_counter(self) -> None:
        self._update(success_counter=circuit_breakers.c.success_counter + 1) if self._row() else self._update(success_counter=1)

    def reset_success_counter(self) -> None:
        row = self._row()
        if row is not None and row.success_counter:
            self._update(success_counter=0)

    @property
    def counter(self) -> int:
        row = self._row()
        return row.fail_counter if row else 0

    @property
    def success_counter(self) -> int:
        row = self._row()
        return row.success_counter if row else 0

    @property
    def opened_at(self) -> datetime | None:
        row = self._row()
        return row.opened_at if row else None

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        self._update(opened_at=value if value.tzinfo else value.replace(tzinfo=UTC))


class PaymentService:
    """The synchronous payment call of SPEC §6: a timeout, a circuit breaker, idempotent by order id."""

    def __init__(self, engine: sa.Engine, gateway: PaymentGateway, timeout_s: float, fail_max: int, reset_timeout_s: float) -> None:
        self.engine = engine
        self.gateway = gateway
        self.timeout_s = timeout_s
        self.fail_max = fail_max
        self.reset_timeout_s = reset_timeout_s
        self.breaker_storage = DatabaseBreakerStorage(engine, "payment-gateway")

    @functools.cached_property
    def breaker(self) -> pybreaker.CircuitBreaker:
        # Built on first use: pybreaker reads the stored state as it is constructed.
        return pybreaker.CircuitBreaker(
            fail_max=self.fail_max,
            reset_timeout=self.reset_timeout_s,
            exclude=[CardDeclined],
            state_storage=self.breaker_storage,
            name="payment-gateway",
        )

    def breaker_state(self) -> dict[str, Any]:
        return self._describe(self.breaker_storage.read())

    def _describe(self, row: sa.Row | None) -> dict[str, Any]:
        opened_at = row.opened_at if row else None
        state = row.state if row else pybreaker.STATE_CLOSED
        retry_at = opened_at + timedelta(seconds=self.reset_timeout_s) if opened_at and state == pybreaker.STATE_OPEN else None
        return {
            "state": state,
            "fail_counter": row.fail_counter if row else 0,
            "fail_max": self.fail_max,
            "reset_timeout_s": self.reset_timeout_s,
            "opened_at": opened_at.isoformat() if opened_at else None,
            "half_open_at": retry_at.isoformat() if retry_at else None,
        }

    def ensure_available(self, conn: sa.Connection) -> sa.Row | None:
        """Fail fast, before any order is written, while the breaker is open and cooling down.

        Returns the breaker's row as read in ``conn`` (the order's transaction), for ``charge``.
        """
        row = self.breaker_storage.read(conn)
        state = self._describe(row)
        if state["state"] == pybreaker.STATE_OPEN and state["half_open_at"]:
            half_open_at = datetime.fromisoformat(state["half_open_at"])
            wait = (half_open_at - utcnow()).total_seconds()
            if wait > 0:
                raise PaymentFailed(
                    f"payment service unavailable: the circuit breaker opened after {state['fail_max']} consecutive "
                    f"failures; it will try again in {wait:.0f}s. No order was placed and nothing was charged.",
                    unavailable=True,
                )
        return row

    def charge(self, order_id: str, amount: int, card: str, breaker_row: sa.Row | None | object = DatabaseBreakerStorage._NOT_READ) -> ChargeOutcome:
        """Charge through the breaker; ``breaker_row`` is its row if the caller has just read it."""
        suffix = card[-4:]
        try:
            with self.breaker_storage.one_read(breaker_row):
                charged = self.breaker.call(self.gateway.charge, order_id, amount, card, self.timeout_s)
        except CardDeclined as exc:
            return ChargeOutcome(False, suffix, reason=f"payment declined: {exc}")
        except pybreaker.CircuitBreakerError:
            return ChargeOutcome(False, suffix, reason="payment service unavailable: the circuit breaker is open", unavailable=True)
        except GatewayUnavailable as exc:
            return ChargeOutcome(False, suffix, reason=f"payment service unavailable: {exc}", unavailable=True)
        return ChargeOutcome(True, charged.card_suffix, charge_id=charged.charge_id)

    def recover(self, order_id: str) -> ChargeOutcome:
        """The outcome of a charge whose caller crashed: the gateway's record for the key decides."""
        charged = self.gateway.lookup(order_id)
        if charged is None:
            return ChargeOutcome(False, "????", reason="payment was interrupted and not completed; you were not charged", unavailable=True)
        return ChargeOutcome(True, charged.card_suffix, charge_id=charged.charge_id)

    def refund(self, order_id: str, amount: int) -> str:
        return self.gateway.refund(order_id, amount, self.timeout_s)

    def refund_orphan(self, order_id: str, amount: int) -> None:
        self.gateway.refund(order_id, amount, self.timeout_s)


def record_charge(uow: UnitOfWork, order_id: str, amount: int, outcome: ChargeOutcome) -> None:
    uow.conn.execute(
        _RECORD_CHARGE,
        {
            "order_id": order_id,
            "amount": amount,
            "status": "APPROVED" if outcome.approved else "DECLINED",
            "charge_id": outcome.charge_id,
            "card_suffix": outcome.card_suffix,
            "reason": None if outcome.approved else outcome.reason,
            "created_at": uow.now,
        },
    )
    if outcome.approved:
        uow.record(PaymentApproved(order_id=order_id, amount=amount, charge_id=outcome.charge_id or "", card_suffix=outcome.card_suffix))
    else:
        uow.record(PaymentDeclined(order_id=order_id, amount=amount, reason=outcome.reason, unavailable=outcome.unavailable))


def refund_handler(service: PaymentService):  # noqa: ANN201
    """The payment side of the cancel saga: refund once when the store cancels or rejects."""

    def refund(event: StoredEvent, uow: UnitOfWork) -> None:
        row = uow.conn.execute(sa.select(payments).where(payments.c.order_id == event.order_id).with_for_update()).first()
        if row is None or row.status != "APPROVED":
            return  # nothing charged, or already refunded
        refund_id = service.refund(event.order_id, row.amount)
        uow.conn.execute(
            payments.update().where(payments.c.order_id == event.order_id).values(status="REFUNDED", refund_id=refund_id, refunded_at=uow.now)
        )
        uow.record(PaymentRefunded(order_id=event.order_id, amount=row.amount, refund_id=refund_id))

    return refund


def payment_row(row: sa.Row) -> dict[str, Any]:
    return {
        "id": row.order_id,
        "order_id": row.order_id,
        "amount": row.amount,
        "status": row.status,
        "charge_id": row.charge_id,
        "refund_id": row.refund_id,
        "card": f"**** {row.card_suffix}",
        "reason": row.reason,
        "created_at": row.created_at.isoformat(),
        "refunded_at": row.refunded_at.isoformat() if row.refunded_at else None,
    }


def list_payments(conn: sa.Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(payments).order_by(payments.c.created_at.desc(), payments.c.order_id.desc()).limit(limit))
    return [payment_row(r) for r in rows]


def get_payment(conn: sa.Connection, order_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(payments).where(payments.c.order_id == order_id)).first()
    if row is None:
        raise NotFound(f"no payment for order {order_id!r}")
    return payment_row(row)
