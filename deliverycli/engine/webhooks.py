"""Webhooks: endpoints that receive the event log over HTTP, each a follower with its own tracking
position (``webhook:<id>``), and every attempt to send one of them an event.

Only tables and queries live here (no HTTP): the sending is ``deliverycli.integrations.webhooks``.

The signing secret is stored as it is, unlike an API token (``identity``): we *verify* a token, so
its hash is enough; we *sign* with a webhook secret (HMAC needs the key itself), so the key must be
kept. It is shown once, when the webhook is added, and never printed again.

An endpoint is worked by one sender at a time: a sender claims it with a lease (``lease_owner``,
``lease_until``) that it renews at every attempt; a sender killed mid-delivery is replaced once its
lease has run out, so running several senders (`serve`, the worker, `webhooks deliver`) never sends
an event twice at once.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from . import eventlog
from .errors import InvalidInput, NotFound
from .events import EVENT_TYPES, StoredEvent
from .storage import JSONType, UTCDateTime, metadata
from .outside_views import IssuedWebhook, Webhook, WebhookDelivery

SUBSCRIBER_PREFIX = "webhook:"  # its tracking position and its dead letters are the subscriber webhook:<id>
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks: 24 to 64 bytes
MAX_URL = 2000
MAX_ERROR = 500

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("url", sa.String(MAX_URL), nullable=False),
    sa.Column("event_types", JSONType, nullable=True),  # null: every event
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(128), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.String(32), nullable=False, index=True),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("attempted_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class Endpoint:
    """What a sender needs of a webhook, its signing key included (never a read model: never shown)."""

    id: str
    url: str
    event_types: tuple[str, ...] | None
    secret: str

    @property
    def subscriber(self) -> str:
        return SUBSCRIBER_PREFIX + self.id

    @property
    def key(self) -> bytes:
        return secret_key(self.secret)


# -- input ------------------------------------------------------------------------------------------


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, or InvalidInput (exit 2)."""
    parts, host = None, None
    if isinstance(url, str) and len(url) <= MAX_URL and url.isprintable() and " " not in url:
        try:
            parts = urlsplit(url)
            host, _port = parts.hostname, parts.port
        except ValueError:  # a bracketed host that is not an IPv6 address, a port that is not a number
            parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise InvalidInput(f"the webhook URL must be an http:// or https:// URL with a host, e.g. https://example.test/hook (got {url!r})", field="url")
    return url


def check_event_types(event_types: Iterable[str] | None) -> tuple[str, ...] | None:
    """Known event type names (in the order given, without repeats), or None for every event."""
    if not event_types:
        return None
    chosen = tuple(dict.fromkeys(event_types))
    unknown = [t for t in chosen if t not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(f"unknown event type(s): {', '.join(map(repr, unknown))}; known: {', '.join(sorted(EVENT_TYPES))}", field="event_type")
    return chosen


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret: its base64-decoded part after the prefix."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def check_secret(secret: str) -> str:
    """A Standard Webhooks secret: ``whsec_`` then base64 of 24 to 64 bytes, or InvalidInput."""
    problem = None
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        problem = "must start with whsec_"
    else:
        try:
            size = len(secret_key(secret))
            if not 24 <= size <= 64:
                problem = f"must encode 24 to 64 bytes (it encodes {size})"
        except (binascii.Error, ValueError):
            problem = "must be whsec_ followed by base64"
    if problem:
        raise InvalidInput(f"the secret {problem}; leave --secret out to have one generated", field="secret")
    return secret


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


# -- webhooks ---------------------------------------------------------------------------------------


def _endpoint(row: sa.Row) -> Endpoint:
    return Endpoint(id=row.id, url=row.url, event_types=tuple(row.event_types) if row.event_types else None, secret=row.secret)


def _view(conn: sa.Connection, row: sa.Row) -> Webhook:
    position = eventlog.positions(conn).get(SUBSCRIBER_PREFIX + row.id, 0)
    return Webhook(id=row.id, url=row.url, event_types=row.event_types, created_at=row.created_at, position=position,
                   lag=_lag(conn, position, row.event_types))


def _lag(conn: sa.Connection, position: int, event_types: list[str] | None) -> int:
    events = eventlog.events
    query = sa.select(sa.func.count()).select_from(events).where(events.c.id > position)
    if event_types:
        query = query.where(events.c.event_type.in_(event_types))
    return conn.execute(query).scalar_one()


def create(conn: sa.Connection, url: str, event_types: Iterable[str] | None, secret: str | None, now: datetime) -> IssuedWebhook:
    """Add a webhook; it receives the events appended from now on (its position starts at the head)."""
    url = check_url(url)
    chosen = check_event_types(event_types)
    secret = check_secret(secret) if secret is not None else new_secret()
    webhook_id = "wh_" + secrets.token_hex(6)
    conn.execute(webhooks.insert().values(id=webhook_id, url=url, event_types=list(chosen) if chosen else None, secret=secret, created_at=now))
    start = eventlog.head(conn)
    position = eventlog.lock_position(conn, SUBSCRIBER_PREFIX + webhook_id, now)
    if start > position:
        eventlog.advance(conn, SUBSCRIBER_PREFIX + webhook_id, position, start, now)
    row = conn.execute(sa.select(webhooks).where(webhooks.c.id == webhook_id)).one()
    return IssuedWebhook(secret=secret, **_view(conn, row).model_dump())


def get(conn: sa.Connection, webhook_id: str) -> Webhook:
    row = conn.execute(sa.select(webhooks).where(webhooks.c.id == webhook_id)).first()
    if row is None:
        raise NotFound(f"no webhook {webhook_id!r} (see `webhooks list`)")
    return _view(conn, row)


def list_webhooks(conn: sa.Connection) -> list[Webhook]:
    """Every webhook, oldest first (never a secret)."""
    return [_view(conn, row) for row in conn.execute(sa.select(webhooks).order_by(webhooks.c.created_at, webhooks.c.id))]


def remove(conn: sa.Connection, webhook_id: str) -> tuple[Webhook, int]:
    """Remove a webhook, its position and its waiting dead letters (nothing can retry them now); its
    delivery attempts stay as a record. Returns what it was and how many dead letters were dropped."""
    removed = get(conn, webhook_id)
    subscriber = SUBSCRIBER_PREFIX + webhook_id
    conn.execute(webhooks.delete().where(webhooks.c.id == webhook_id))
    conn.execute(eventlog.tracking.delete().where(eventlog.tracking.c.subscriber == subscriber))
    letters = eventlog.dead_letters
    dropped = conn.execute(letters.delete().where(letters.c.subscriber == subscriber, letters.c.resolved_at.is_(None))).rowcount
    return removed, dropped


def endpoints(conn: sa.Connection) -> list[Endpoint]:
    """Every webhook, with what a sender needs."""
    return [_endpoint(row) for row in conn.execute(sa.select(webhooks).order_by(webhooks.c.created_at, webhooks.c.id))]


def endpoint(conn: sa.Connection, webhook_id: str) -> Endpoint | None:
    row = conn.execute(sa.select(webhooks).where(webhooks.c.id == webhook_id)).first()
    return _endpoint(row) if row is not None else None


def positions(conn: sa.Connection) -> list[tuple[str, int, int]]:
    """(subscriber, position, lag) of every webhook: the operations view lists them with the subscribers."""
    return [(SUBSCRIBER_PREFIX + view.id, view.position, view.lag) for view in list_webhooks(conn)]


# -- the sender's side: leases, attempts --------------------------------------------------------------


def claim(conn: sa.Connection, webhook_id: str, owner: str, now: datetime, lease_s: float) -> bool:
    """Take (or renew) the lease on a webhook for ``owner``; False when another sender holds it, or it is gone."""
    renewed = conn.execute(  # the common case, one statement: the holder renews
        webhooks.update().where(webhooks.c.id == webhook_id, webhooks.c.lease_owner == owner).values(lease_until=now + timedelta(seconds=lease_s))
    ).rowcount
    if renewed:
        return True
    row = conn.execute(sa.select(webhooks.c.lease_owner, webhooks.c.lease_until).where(webhooks.c.id == webhook_id)).first()
    if row is None:
        return False
    if row.lease_owner not in (None, owner) and row.lease_until is not None and row.lease_until > now:
        return False
    moved = conn.execute(
        webhooks.update()
        .where(webhooks.c.id == webhook_id, _same(webhooks.c.lease_owner, row.lease_owner), _same(webhooks.c.lease_until, row.lease_until))
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
    ).rowcount
    return moved == 1


def release(conn: sa.Connection, webhook_id: str, owner: str) -> None:
    conn.execute(webhooks.update().where(webhooks.c.id == webhook_id, webhooks.c.lease_owner == owner).values(lease_owner=None, lease_until=None))


def _same(column: sa.Column, value: object) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def attempts_so_far(conn: sa.Connection, webhook_id: str, event_id: int) -> int:
    return attempts_per_event(conn, webhook_id, event_id - 1, event_id).get(event_id, 0)


def attempts_per_event(conn: sa.Connection, webhook_id: str, after: int, upto: int) -> dict[int, int]:
    """Attempts already made to send a webhook each event in (after, upto] (by an earlier, killed sender)."""
    table = webhook_deliveries
    query = (sa.select(table.c.event_id, sa.func.count()).where(table.c.webhook_id == webhook_id, table.c.event_id > after, table.c.event_id <= upto)
             .group_by(table.c.event_id))
    return {event_id: n for event_id, n in conn.execute(query)}


def record_attempt(
    conn: sa.Connection, webhook_id: str, event: StoredEvent, attempt: int, status_code: int | None, duration_ms: float,
    error: str | None, now: datetime,
) -> None:
    conn.execute(webhook_deliveries.insert().values(
        webhook_id=webhook_id, event_id=event.id, event_type=event.event_type, order_id=event.order_id, attempt=attempt,
        ok=error is None, status_code=status_code, duration_ms=round(duration_ms, 3), error=error[:MAX_ERROR] if error else None,
        attempted_at=now,
    ))


def deliveries(conn: sa.Connection, webhook_id: str | None = None, failed: bool = False, limit: int = 100) -> list[WebhookDelivery]:
    """The newest ``limit`` attempts, oldest first: of one webhook, only failed ones if asked."""
    table = webhook_deliveries  # by when each was sent (an accepted one is recorded later, with the position it moved)
    query = sa.select(table).order_by(table.c.attempted_at.desc(), table.c.event_id.desc(), table.c.attempt.desc()).limit(limit)
    if webhook_id is not None:
        query = query.where(table.c.webhook_id == webhook_id)
    if failed:
        query = query.where(table.c.ok.is_(False))
    rows = reversed(conn.execute(query).all())
    return [WebhookDelivery(**row._mapping) for row in rows]
