"""The relay of the event log to NATS JetStream, for services in any language (SPEC §9, the seed's broker).

Every event, in log order, goes to ``<prefix>.<context>.<EventType>`` on a stream the relay creates
if missing; the body is the JSON `events tail --json` prints, the ``Nats-Msg-Id`` header the event's
sequence number. The relay's position is a row of the ``tracking`` table (``relay:nats:<stream>``),
moved only after the server has acknowledged every event up to it.

Exactly once, in order, whatever happens in between:

- Each batch is published without waiting for each ack (one round trip per batch, not per event),
  every message carrying ``Nats-Expected-Last-Sequence``: if one is lost (a reconnect), the server
  refuses every later one, so the stream never holds an event after a gap.
- Before relaying, and after any error, the relay reads the stream's last message: events already
  in the stream (a ``kill -9`` between the ack and moving the position) are skipped, not sent again,
  so no duplicate appears even after JetStream's duplicate window has passed. ``Nats-Msg-Id`` still
  lets the server drop a duplicate from a second relay started by mistake.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nats
import sqlalchemy as sa
from nats.js.api import Header, StreamConfig
from nats.js.errors import NotFoundError

from ..engine import eventlog
from ..engine.errors import Conflict, DatabaseUnavailable, DeliveryError, InvalidInput
from ..engine.events import StoredEvent
from ..engine.storage import utcnow
from ..engine.unit_of_work import database_errors
from ..engine.views import EventView

log = logging.getLogger(__name__)

STREAM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,52}$")  # tracking names are at most 64 characters
SUBJECT_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
NATS_SCHEMES = ("nats://", "tls://", "ws://", "wss://")


class BrokerUnavailable(DeliveryError):
    """NATS cannot be reached, or kept failing (exit 7: a service the command needs is unavailable)."""

    exit_code = 7
    code = "broker_unavailable"


def tracking_name(stream: str) -> str:
    return f"relay:nats:{stream}"


def subject(prefix: str, event: StoredEvent) -> str:
    return f"{prefix}.{event.context}.{event.event_type}"


def body(event: StoredEvent) -> bytes:
    """The event as `deliverycli events tail --json` prints it."""
    return EventView.json_bytes(event)


def check_options(nats_url: str, stream: str, prefix: str) -> None:
    """Raise InvalidInput (exit 2) for a malformed URL, stream name or subject prefix."""
    if not nats_url.startswith(NATS_SCHEMES) or len(nats_url) > 2000:
        raise InvalidInput(f"--nats must be a NATS URL such as nats://127.0.0.1:4222 (got {nats_url!r})")
    if not STREAM_NAME.match(stream):
        raise InvalidInput(f"--stream must be 1 to 52 letters, digits, '-' or '_' (got {stream!r})")
    if not SUBJECT_PREFIX.match(prefix) or len(prefix) > 200:
        raise InvalidInput(f"--subject-prefix must be dot-separated tokens of letters, digits, '-' or '_' (got {prefix!r})")


@dataclass
class RelayResult:
    stream: str
    subject_prefix: str
    start_position: int | None = None  # where this run started (after skipping what the stream already held)
    position: int = 0  # the last event the stream holds, and the relay's tracking position
    relayed: int = 0  # events published by this run
    errors: int = 0  # failed attempts (each retried)
    stream_created: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"id": "relay", "stream": self.stream, "subject_prefix": self.subject_prefix, "start_position": self.start_position,
                "position": self.position, "relayed": self.relayed, "errors": self.errors, "stream_created": self.stream_created}


class _BatchFailed(Exception):
    def __init__(self, stored: int, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
        self.stored = stored


@dataclass
class NatsRelay:
    """Relays the event log of ``db`` to ``stream``; ``await relay.run(stop)`` until ``stop`` is set."""

    db: sa.Engine
    nats_url: str
    stream: str = "DELIVERYCLI"
    subject_prefix: str = "deliverycli"
    batch_size: int = 500
    poll_s: float = 0.2  # how often an idle relay looks for new events
    ack_timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    max_backoff_s: float = 5.0
    give_up_after: int | None = None  # consecutive failed attempts before giving up (None: never)
    on_error: Callable[[str], None] = field(default=lambda message: log.warning("%s", message))
    _last_seq: int = field(default=0, init=False)  # the stream's last sequence number, as this relay knows it

    def __post_init__(self) -> None:
        check_options(self.nats_url, self.stream, self.subject_prefix)
        self.name = tracking_name(self.stream)
        self.result = RelayResult(self.stream, self.subject_prefix)

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> RelayResult:
        """Relay until ``stop`` is set (or, with ``once``, until the log is relayed); returns what it did."""
        nc = await self._connect()
        try:
            js = nc.jetstream(timeout=self.ack_timeout_s)
            await self._ensure_stream(js)
            failures = 0
            synced = False
            while not stop.is_set():
                try:
                    if not synced:
                        await self._sync(js)
                        synced = True
                    events = self._read()
                    if not events:
                        if once:
                            break
                        await _pause(stop, self.poll_s)
                        continue
                    await self._publish(js, events)
                    failures = 0
                except (DatabaseUnavailable, _BatchFailed, nats.errors.Error, asyncio.TimeoutError, OSError) as exc:
                    failures += 1
                    self.result.errors += 1
                    synced = False  # the stream may hold more than this relay knows: read it again
                    if self.give_up_after is not None and failures >= self.give_up_after:
                        raise BrokerUnavailable(f"relay to {self.nats_url} gave up after {failures} failed attempts: {_describe(exc)}") from None
                    delay = min(self.max_backoff_s, 0.1 * 2 ** (failures - 1))
                    self.on_error(f"relay: {_describe(exc)}; retrying in {delay:g}s")
                    await _pause(stop, delay)
        finally:
            await _close(nc)
        return self.result

    async def _connect(self) -> Any:
        seen: list[Exception] = []

        async def error_cb(exc: Exception) -> None:
            seen.append(exc)
            if connected:  # before that, the one error that matters is raised below
                self.on_error(f"relay: NATS: {_describe(exc)}")

        connected = False

        try:
            # Reconnects for ever once connected; the first connection is bounded, so a wrong URL is an error.
            nc = await asyncio.wait_for(
                nats.connect(self.nats_url, name="deliverycli-relay", connect_timeout=self.connect_timeout_s,
                             max_reconnect_attempts=-1, reconnect_time_wait=0.5, error_cb=error_cb),
                timeout=self.connect_timeout_s * 2,
            )
            connected = True
            return nc
        except (asyncio.TimeoutError, OSError, nats.errors.Error) as exc:
            raise BrokerUnavailable(f"cannot connect to NATS at {self.nats_url}: {_describe(seen[-1] if seen else exc)}") from None

    async def _ensure_stream(self, js: Any) -> None:
        wanted = f"{self.subject_prefix}.>"
        try:
            try:
                info = await js.stream_info(self.stream)
            except NotFoundError:
                info = await js.add_stream(StreamConfig(name=self.stream, subjects=[wanted], description="deliverycli event log"))
                self.result.stream_created = True
        except nats.js.errors.APIError as exc:
            raise Conflict(f"cannot create stream {self.stream} for {wanted}: {exc.description or exc}") from None
        except (asyncio.TimeoutError, nats.errors.Error) as exc:
            raise BrokerUnavailable(f"NATS at {self.nats_url} did not answer about stream {self.stream} (is JetStream enabled?): {_describe(exc)}") from None
        if wanted not in (info.config.subjects or []):
            raise Conflict(f"stream {self.stream} exists but takes {info.config.subjects}, not {wanted}; choose another --stream or --subject-prefix")

    async def _sync(self, js: Any) -> None:
        """Learn the stream's last sequence and the last event it holds; move the position up to it."""
        try:
            info = await js.stream_info(self.stream)
        except NotFoundError:  # deleted while the relay ran: create it again and go on from the position
            await self._ensure_stream(js)
            info = await js.stream_info(self.stream)
        self._last_seq = info.state.last_seq
        in_stream = 0
        if self._last_seq:
            try:
                last = await js.get_msg(self.stream, seq=self._last_seq)
                msg_id = (last.headers or {}).get(Header.MSG_ID.value, "")
                in_stream = int(msg_id) if msg_id.isdigit() else 0
            except NotFoundError:  # removed by a retention limit: the tracking position decides
                pass
        self.result.position = self._advance(in_stream)
        if self.result.start_position is None:
            self.result.start_position = self.result.position

    def _read(self) -> list[StoredEvent]:
        with database_errors(), self.db.connect() as conn, conn.execution_options(readonly=True).begin():
            return eventlog.read(conn, self.result.position, limit=self.batch_size)

    async def _publish(self, js: Any, events: list[StoredEvent]) -> None:
        """Publish a batch in order without waiting between messages; then wait for every ack and
        move the position past the acknowledged prefix (all of it, unless something failed)."""
        acks = []
        sending: BaseException | None = None
        try:
            for offset, event in enumerate(events):
                headers = {Header.MSG_ID.value: str(event.id), Header.EXPECTED_LAST_SEQUENCE.value: str(self._last_seq + offset)}
                acks.append(await js.publish_async(subject(self.subject_prefix, event), body(event), headers=headers))
        except (nats.errors.Error, OSError) as exc:  # the connection went away: settle what was sent
            sending = exc
        done, pending = await asyncio.wait(acks, timeout=self.ack_timeout_s) if acks else (set(), set())
        for future in pending:
            future.cancel()
        stored = 0
        failure: BaseException | None = None
        for future in acks:
            if future not in done or future.cancelled():
                failure = asyncio.TimeoutError(f"no ack from NATS within {self.ack_timeout_s:g}s")
                break
            if future.exception() is not None:
                failure = future.exception()
                break
            ack = future.result()
            if ack.duplicate or ack.seq != self._last_seq + stored + 1:
                failure = RuntimeError(f"event {events[stored].id} was already in stream {self.stream} (another relay?)")
                break
            stored += 1
        failure = failure or sending
        if stored:
            self._last_seq += stored
            self.result.position = self._advance(events[stored - 1].id)
            self.result.relayed += stored
        if failure is not None:
            raise _BatchFailed(stored, failure)

    def _advance(self, to: int) -> int:
        """Move the tracking position forward to ``to`` (never back); returns the position."""
        with database_errors(), self.db.begin() as conn:
            now = utcnow()
            position = eventlog.lock_position(conn, self.name, now)
            if to > position:
                eventlog.advance(conn, self.name, position, to, now)
                position = to
        return position


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set, whichever comes first."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass


async def _close(nc: Any) -> None:
    try:
        await asyncio.wait_for(nc.close(), 5)
    except (asyncio.TimeoutError, nats.errors.Error):
        pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DeliveryError):
        return exc.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
