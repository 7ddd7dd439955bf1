"""The payment provider's API keys: every call but ``/healthz`` carries one (``Authorization:
Bearer sk_...``). A key is shown once, when it is made; the provider's ledger keeps only its
SHA-256 (as the gateway keeps its API tokens: ``engine.identity.token_hash``)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa

from ..engine.identity import token_hash
from ..engine.payment.simulated import create_ledger_tables
from ..engine.storage import UTCDateTime

KEY_PREFIX = "sk_"
KEY_BYTES = 32

_metadata = sa.MetaData()
provider_api_keys = sa.Table(
    "provider_api_keys",
    _metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
_KNOWN = sa.select(provider_api_keys.c.id).where(provider_api_keys.c.key_hash == sa.bindparam("key_hash"))


def ensure(db: sa.Engine) -> None:
    """Create the keys' table in the ledger if it is not there yet."""
    create_ledger_tables(db, _metadata)


def create(db: sa.Engine) -> str:
    """A new key, returned once: the ledger keeps only its hash."""
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    with db.begin() as conn:
        conn.execute(provider_api_keys.insert().values(id="key_" + secrets.token_hex(6), key_hash=token_hash(key), created_at=datetime.now(UTC)))
    return key


def count(db: sa.Engine) -> int:
    with db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(provider_api_keys)).scalar_one()


def known(db: sa.Engine, key: str) -> bool:
    """Whether ``key`` is one of the provider's keys."""
    with db.connect() as conn:
        return conn.execute(_KNOWN, {"key_hash": token_hash(key)}).first() is not None
