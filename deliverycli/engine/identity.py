"""Identities: the bearer tokens that let a customer, a store, a rider or an operator act over HTTP.

A token is 256 random bits, shown once when it is created and never stored: the table keeps only
its SHA-256. A slow password hash (bcrypt, argon2) exists to make guessing a low-entropy password
expensive; a 256-bit random token cannot be guessed, so one fast hash is as safe and keeps every
request's authentication to one index lookup. Someone who reads the table cannot use what they read.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import get_args

import sqlalchemy as sa

from . import catalog
from .errors import InvalidInput, NotFound
from .storage import UTCDateTime, metadata
from .outside_views import Actor, IssuedToken, Role, Token

ROLES: tuple[str, ...] = get_args(Role)
TOKEN_PREFIX = "dlv_"  # says what a leaked secret is (secret scanners match on prefixes)
TOKEN_BYTES = 32  # 256 bits
MAX_TOKEN_LENGTH = 200  # longer is not one of ours: refused before hashing

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("actor_id", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

_LOOKUP = sa.select(api_tokens.c.id, api_tokens.c.role, api_tokens.c.actor_id).where(
    api_tokens.c.token_hash == sa.bindparam("token_hash"), api_tokens.c.revoked_at.is_(None)
)
_ACTOR_LOOKUP = {"customer": catalog.get_customer, "store": catalog.get_store, "rider": catalog.get_rider}


def token_hash(token: str) -> str:
    """What the table keeps of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _view(row: sa.RowMapping) -> Token:
    return Token(id=row["id"], role=row["role"], actor_id=row["actor_id"], created_at=row["created_at"], revoked_at=row["revoked_at"])


def create(conn: sa.Connection, role: str, actor_id: str | None, now: datetime) -> IssuedToken:
    """A new token acting as ``actor_id`` in ``role`` (ops acts as no one in particular).

    The returned ``token`` is the only time it is seen. The actor must exist in the catalog.
    """
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of: {', '.join(ROLES)}", field="role")
    if role == "ops":
        if actor_id is not None:
            raise InvalidInput("an ops token acts as no particular customer, store or rider: do not name one", field="actor_id")
    elif actor_id is None:
        raise InvalidInput(f"a {role} token must name the {role} it acts as", field="actor_id")
    else:
        _ACTOR_LOOKUP[role](conn, actor_id)  # NotFound for an unknown customer, store or rider
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = {"id": "tok_" + secrets.token_hex(6), "token_hash": token_hash(token), "role": role, "actor_id": actor_id, "created_at": now, "revoked_at": None}
    conn.execute(api_tokens.insert().values(**row))
    return IssuedToken(token=token, **_view(row).model_dump())


def list_tokens(conn: sa.Connection, include_revoked: bool = True) -> list[Token]:
    """Every token (never the secret), oldest first."""
    query = sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)
    if not include_revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    return [_view(row) for row in conn.execute(query).mappings()]


def revoke(conn: sa.Connection, token_id: str, now: datetime) -> Token:
    """Revoke a token from now on; revoking it again changes nothing."""
    conn.execute(api_tokens.update().where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None)).values(revoked_at=now))
    row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).mappings().first()
    if row is None:
        raise NotFound(f"no token {token_id!r}")
    return _view(row)


def authenticate(conn: sa.Connection, token: str) -> Actor | None:
    """Who a presented token acts as; None for an unknown, malformed or revoked one."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    row = conn.execute(_LOOKUP, {"token_hash": token_hash(token)}).first()
    if row is None:
        return None
    return Actor(role=row.role, actor_id=row.actor_id, token_id=row.id)
