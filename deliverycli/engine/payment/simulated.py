"""A simulated payment provider: deterministic, with fault injection, keeping its own ledger.

Its ledger lives in its own database (a sibling SQLite file, or its own table on PostgreSQL), as an
outside provider's records would: our transactions never hold its locks, and its schema is not ours
to migrate.
"""

from __future__ import annotations

import random
import time

import sqlalchemy as sa

from ..errors import NotFound
from ..storage import UTCDateTime, insert_ignore, utcnow
from .port import TEST_CARDS, VOIDED_MESSAGE, CardDeclined, GatewayCharge, GatewayUnavailable

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

_LEDGER_ADD = gateway_ledger.insert()
_LEDGER_ENTRY = sa.select(gateway_ledger).where(gateway_ledger.c.idempotency_key == sa.bindparam("key"))
_VOIDED = sa.select(gateway_voids.c.idempotency_key).where(gateway_voids.c.idempotency_key == sa.bindparam("key"))

LEDGER_CREATE_LOCK = 7_318_401  # advisory lock key serialising the ledger's creation on PostgreSQL
LEDGER_KEY_LOCK = 7_318_402  # with the key's hash: a charge and a void of one key never interleave on PostgreSQL


def create_ledger_tables(db: sa.Engine, metadata: sa.MetaData) -> None:
    """Create the ledger's tables of ``metadata`` that are missing (the provider adds its keys' table)."""
    with db.begin() as conn:
        if conn.dialect.name == "postgresql":  # several processes' first charges: one creates, the others wait
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_CREATE_LOCK})
        metadata.create_all(conn, checkfirst=True)


class SimulatedGateway:
    """A deterministic stand-in for a payment provider, with fault injection.

    ``failure_rate`` makes that share of charges fail as if the provider were down (decided by the
    seed and the key, so a run can be repeated); ``latency_ms`` delays every call.
    """

    def __init__(self, db: sa.Engine, failure_rate: float = 0.0, latency_ms: int = 0, seed: int = 0) -> None:
        self.db = db
        self.failure_rate = failure_rate
        self.latency_ms = latency_ms
        self.seed = seed
        self._ready = False

    def _ensure_ledger(self) -> None:
        if not self._ready:
            create_ledger_tables(self.db, gateway_metadata)
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
            with self.db.begin() as conn:
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
        with self.db.begin() as conn:
            self._lock_key(conn, key)
            row = conn.execute(_LEDGER_ENTRY, {"key": key}).first()
            if row is not None:
                return GatewayCharge(row.charge_id, row.amount, row.card_suffix, row.refund_id, row.refunded_at)
            conn.execute(insert_ignore(conn, gateway_voids).values(idempotency_key=key, voided_at=utcnow()))
        return None

    def _voided(self, key: str) -> bool:
        with self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            return conn.execute(_VOIDED, {"key": key}).first() is not None

    @staticmethod
    def _lock_key(conn: sa.Connection, key: str) -> None:
        # SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL's READ COMMITTED does not.
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock, hashtext(:key))"), {"lock": LEDGER_KEY_LOCK, "key": key})

    def refund(self, key: str, amount: int, timeout: float) -> str:
        self._wait(timeout)
        self._ensure_ledger()
        with self.db.begin() as conn:
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
        with self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            row = conn.execute(_LEDGER_ENTRY, {"key": key}).first()
        if row is None:
            return None
        return GatewayCharge(row.charge_id, row.amount, row.card_suffix, row.refund_id, row.refunded_at)

    def charges(self, after: str | None = None, limit: int | None = None) -> dict[str, GatewayCharge]:
        """The charges in the ledger by key, in key order: every one (what `doctor --check` compares
        our payments with), or a page of ``limit`` after the key ``after``."""
        self._ensure_ledger()
        query = sa.select(gateway_ledger).order_by(gateway_ledger.c.idempotency_key).limit(limit)
        if after is not None:
            query = query.where(gateway_ledger.c.idempotency_key > after)
        with self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            rows = conn.execute(query).all()
        return {row.idempotency_key: GatewayCharge(row.charge_id, row.amount, row.card_suffix, row.refund_id, row.refunded_at) for row in rows}
