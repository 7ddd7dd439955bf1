"""Sending the event log to webhooks: each endpoint a follower with its own tracking position
(``webhook:<id>``), signed per Standard Webhooks, over httpx, retried with stamina (needs the
``webhooks`` extra, which ``server`` includes).

Each request carries ``webhook-id`` (the event's sequence number), ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with
the base64-decoded part of the secret after ``whsec_``; the body is the event as `events tail --json`
prints it.

Delivery is at least once, and in log order per endpoint (so per order): an endpoint's events go
one at a time; a failed one is retried (exponential backoff with jitter, bounded in attempts and in
time) before any later one is sent, and once it is given up it is parked as a dead letter of that
endpoint and the endpoint moves on to the next event. Parking trades order for progress: one event
a receiver cannot take does not stop its whole feed, and `deadletters retry` sends it again later
(after later events of the same order; the receiver orders by ``webhook-id`` if it must). The
position moves only past events the receiver answered 2xx, up to ``FLUSH_EVENTS`` of them per
transaction, so a sender killed between an answer and that transaction sends those events again:
receivers deduplicate by ``webhook-id``.

Endpoints never wait for each other: ``run`` works each one in a thread of its own, and
``run_once`` works them side by side. Every attempt is recorded in ``webhook_deliveries``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import stamina

from ..engine import eventlog, webhooks
from ..engine.errors import DeliveryError, NotFound
from ..engine.events import StoredEvent
from ..engine.views import EventView
from .webhook_http import Attempt, new_client, post, sign, signed_headers  # noqa: F401 (sign, signed_headers: re-exported)

if TYPE_CHECKING:
    from ..engine.bootstrap import Engine
    from ..settings import Settings

log = logging.getLogger(__name__)

MAX_PARALLEL = 8  # endpoints worked side by side by one run_once
FLUSH_EVENTS = 50  # accepted events recorded, and the position moved past them, per transaction (at most)
FLUSH_S = 0.25  # ... or once the first of them has waited this long


@dataclass(frozen=True)
class RetryPolicy:
    """How long one event is tried before it is parked: attempts and time, both bounded; waits grow
    exponentially (``wait_initial_s`` doubled, up to ``wait_max_s``) plus up to ``wait_jitter_s`` at random."""

    attempts: int = 8
    timeout_s: float = 300.0
    wait_initial_s: float = 0.5
    wait_max_s: float = 30.0
    wait_jitter_s: float = 1.0

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        s = settings
        return cls(s.webhook_retry_attempts, s.webhook_retry_timeout_s, s.webhook_retry_wait_initial_s, s.webhook_retry_wait_max_s,
                   s.webhook_retry_wait_jitter_s)


class AttemptFailed(Exception):
    """The endpoint did not take the event: no answer, or not a 2xx."""

    def __init__(self, error: str, retry_after_s: float | None = None) -> None:
        super().__init__(error)
        self.retry_after_s = retry_after_s


class LeaseLost(Exception):
    """Another sender holds the endpoint now (or it was removed): stop working it."""


@dataclass
class Stats:
    delivered: int = 0  # events an endpoint accepted
    parked: int = 0  # events given up on (dead letters)
    attempts: int = 0
    failed_attempts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        return {"delivered": self.delivered, "parked": self.parked, "attempts": self.attempts, "failed_attempts": self.failed_attempts}


def quiet_stamina() -> None:
    """Drop stamina's own log line per retry ("stamina.retry_scheduled", without the endpoint or the
    error): the dispatcher reports each failed attempt itself, through ``on_error``. For a process
    whose retries are all webhooks' (the CLI's sender, `serve`)."""
    stamina.instrumentation.set_on_retry_hooks([])


class WebhookDispatcher:
    """Sends each webhook the events of the log after its position.

    ``run_once()`` works every endpoint once (side by side), up to ``batch_size`` events each, and
    returns how many events were delivered or parked; ``run(stop)`` works each endpoint in a thread
    of its own until ``stop`` is set. Several dispatchers (processes) may run: an endpoint is
    claimed by one at a time with a lease renewed at every attempt.
    """

    def __init__(
        self, engine: Engine, *, policy: RetryPolicy | None = None, http_timeout_s: float | None = None, batch_size: int = 100,
        poll_s: float | None = None, lease_s: float | None = None, client: httpx.Client | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        s = engine.settings
        self.engine = engine
        self.policy = policy or RetryPolicy.of(s)
        self.batch_size = batch_size
        self.poll_s = s.webhook_poll_s if poll_s is None else poll_s
        self.lease_s = s.webhook_lease_s if lease_s is None else lease_s
        self.owner = f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stats = Stats()
        self.on_error = on_error or (lambda message: log.warning("%s", message))
        timeout = s.webhook_timeout_s if http_timeout_s is None else http_timeout_s
        self._own_client = client is None
        self._client = client or new_client(timeout)
        self._closing = threading.Event()
        self._claimed: set[str] = set()

    # -- the loops ------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Work every endpoint once, side by side; returns the events delivered or parked."""
        endpoints = self._endpoints()
        if len(endpoints) <= 1:
            return sum(self._deliver_logged(e, self._closing) for e in endpoints)
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(endpoints)), thread_name_prefix="webhook") as pool:
            return sum(pool.map(lambda e: self._deliver_logged(e, self._closing), endpoints))

    def run(self, stop: threading.Event) -> int:
        """Work each endpoint in a thread of its own until ``stop`` is set (endpoints added meanwhile
        are picked up); returns the events delivered or parked."""
        lanes: dict[str, threading.Thread] = {}
        try:
            while not stop.is_set():
                try:
                    found = self._endpoints()
                except DeliveryError as exc:
                    self.on_error(f"webhooks: {exc.message}")
                    found = []
                for endpoint in found:
                    lane = lanes.get(endpoint.id)
                    if lane is None or not lane.is_alive():
                        lanes[endpoint.id] = lane = threading.Thread(target=self._lane, args=(endpoint.id, stop), name=f"webhook-{endpoint.id}", daemon=True)
                        lane.start()
                stop.wait(self.poll_s)
        finally:
            stop.set()
            for lane in lanes.values():
                lane.join()
        return self.stats.delivered + self.stats.parked

    def _lane(self, webhook_id: str, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                with self.engine.read() as conn:
                    endpoint = webhooks.endpoint(conn, webhook_id)
                if endpoint is None:
                    return  # removed
                done = self.deliver(endpoint, stop)
                failures = 0
            except DeliveryError as exc:  # the database: wait and try again
                failures += 1
                self.on_error(f"webhook {webhook_id}: {exc.message}")
                stop.wait(min(10.0, 0.2 * 2 ** failures))
                continue
            if not done:
                stop.wait(self.poll_s)

    def _deliver_logged(self, endpoint: webhooks.Endpoint, stop: threading.Event) -> int:
        try:
            return self.deliver(endpoint, stop)
        except DeliveryError as exc:
            self.on_error(f"webhook {endpoint.id}: {exc.message}")
            return 0

    def close(self) -> None:
        """Stop what is in flight, hand the endpoints' leases back, close the HTTP client."""
        self._closing.set()
        try:
            with self.engine.write() as conn:
                for webhook_id in self._claimed:
                    webhooks.release(conn, webhook_id, self.owner)
        except DeliveryError as exc:
            self.on_error(f"webhooks: could not hand the leases back (they run out by themselves): {exc.message}")
        if self._own_client:
            self._client.close()

    def __enter__(self) -> WebhookDispatcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- one endpoint ---------------------------------------------------------------------------

    def _endpoints(self) -> list[webhooks.Endpoint]:
        with self.engine.read() as conn:
            return webhooks.endpoints(conn)

    def _claim(self, webhook_id: str) -> bool:
        with self.engine.write() as conn:
            claimed = webhooks.claim(conn, webhook_id, self.owner, self.engine.clock.now(), self.lease_s)
        if claimed:
            self._claimed.add(webhook_id)
        return claimed

    def deliver(self, endpoint: webhooks.Endpoint, stop: threading.Event) -> int:
        """Send ``endpoint`` the events after its position, in order, up to ``batch_size``; returns
        how many were delivered or parked (0 when another sender holds the endpoint).

        Accepted events are recorded, and the position moved past them, a few at a time (at most
        ``FLUSH_EVENTS``, or ``FLUSH_S`` after the first): one transaction, one commit, for many
        deliveries. A sender killed in between sends those again (at least once, by design)."""
        if not self._claim(endpoint.id):
            return 0
        with self.engine.read() as conn:
            position = eventlog.positions(conn).get(endpoint.subscriber, 0)
            head = eventlog.head(conn)
            batch = eventlog.read(conn, position, upto=head, types=endpoint.event_types, limit=self.batch_size)
            earlier = webhooks.attempts_per_event(conn, endpoint.id, position, batch[-1].id) if batch else {}
        done = 0
        accepted: list[tuple[StoredEvent, Attempt]] = []
        first_at = 0.0

        def flush() -> bool:
            nonlocal position, done, accepted
            if not accepted:
                return True
            moved = self._advance(endpoint, position, accepted[-1][0].id, accepted)
            if moved:
                position, done = accepted[-1][0].id, done + len(accepted)
                self.stats.add(delivered=len(accepted))
            accepted = []
            return moved

        for event in batch:
            if stop.is_set() or self._closing.is_set():
                break
            try:
                error, attempts, ok = self._send(endpoint, event, earlier.get(event.id, 0), stop)
            except LeaseLost:
                break
            if ok is not None:
                if not accepted:
                    first_at = time.monotonic()
                accepted.append((event, ok))
                if (len(accepted) >= FLUSH_EVENTS or time.monotonic() - first_at >= FLUSH_S) and not flush():
                    return done
                continue
            if stop.is_set() or self._closing.is_set():
                break  # stopped between attempts: the event stays pending, not parked
            if not flush() or not self._advance(endpoint, position, event.id, parked=(event, error or "", attempts)):
                return done
            position, done = event.id, done + 1
            self.stats.add(parked=1)
        else:
            if flush() and len(batch) < self.batch_size and head > position:
                self._advance(endpoint, position, head)  # past the events it does not take
            return done
        flush()
        return done

    def _send(self, endpoint: webhooks.Endpoint, event: StoredEvent, earlier: int, stop: threading.Event) -> tuple[str | None, int, Attempt | None]:
        """Try until the endpoint takes the event or the policy gives up: (the last error or None,
        attempts made, the accepted attempt: recorded by the caller with the position it moves)."""
        body = EventView.json_bytes(event)
        made = 0

        def retry_on(exc: Exception) -> bool | float:
            if not isinstance(exc, AttemptFailed) or stop.is_set() or self._closing.is_set():
                return False
            return exc.retry_after_s if exc.retry_after_s is not None else True

        p = self.policy
        try:
            for attempt in stamina.retry_context(on=retry_on, attempts=p.attempts, timeout=p.timeout_s, wait_initial=p.wait_initial_s,
                                                 wait_max=p.wait_max_s, wait_jitter=p.wait_jitter_s):
                with attempt:
                    made += 1
                    tried = self.post(endpoint, event, body, earlier + made)
                    if tried.error is not None:
                        self._record(endpoint, event, tried)
                        self.on_error(f"webhook {endpoint.id}: event {event.id}, attempt {tried.number}: {tried.error}")
                        raise AttemptFailed(tried.error, tried.retry_after_s)
                    return None, made, tried
        except AttemptFailed as exc:
            return str(exc), made, None
        raise AssertionError("unreachable: stamina either returned an attempt or raised")  # pragma: no cover

    def post(self, endpoint: webhooks.Endpoint, event: StoredEvent, body: bytes, number: int) -> Attempt:
        """One signed POST (not recorded yet)."""
        tried = post(self._client, endpoint, event, body, number, self.engine.clock.now(), self.policy.wait_max_s)
        self.stats.add(attempts=1, failed_attempts=int(tried.error is not None))
        return tried

    def _record(self, endpoint: webhooks.Endpoint, event: StoredEvent, tried: Attempt, *, renew: bool = True) -> None:
        """Record an attempt, renewing the lease (unless ``renew`` is False); LeaseLost if it is no longer this sender's."""
        with self.engine.write() as conn:
            now = self.engine.clock.now()
            webhooks.record_attempt(conn, endpoint.id, event, tried.number, tried.status, tried.duration_ms, tried.error, tried.at)
            held = not renew or webhooks.claim(conn, endpoint.id, self.owner, now, self.lease_s)
        if not held:
            raise LeaseLost(endpoint.id)

    def _advance(self, endpoint: webhooks.Endpoint, old: int, new: int, accepted: list[tuple[StoredEvent, Attempt]] = (),  # type: ignore[assignment]
                 parked: tuple[StoredEvent, str, int] | None = None) -> bool:
        """Move the endpoint's position from ``old`` to ``new`` in one transaction with the records of
        the ``accepted`` attempts, or with the ``parked`` (event, error, attempts) as a dead letter;
        False if someone else moved it (a removal) or took the endpoint: stop working it."""
        try:
            with self.engine.write() as conn:
                now = self.engine.clock.now()
                if eventlog.lock_position(conn, endpoint.subscriber, now) != old or not webhooks.claim(conn, endpoint.id, self.owner, now, self.lease_s):
                    raise LeaseLost(endpoint.id)  # rolls this transaction back
                for event, tried in accepted:
                    webhooks.record_attempt(conn, endpoint.id, event, tried.number, tried.status, tried.duration_ms, None, tried.at)
                if parked is not None:
                    eventlog.park(conn, endpoint.subscriber, *parked, now)
                eventlog.advance(conn, endpoint.subscriber, old, new, now)
        except LeaseLost:
            for event, tried in accepted:  # they were sent all the same: the records say so
                self._record(endpoint, event, tried, renew=False)
            return False
        if parked is not None:
            event, error, attempts = parked
            self.on_error(f"webhook {endpoint.id}: parked event {event.id} ({event.event_type}) after {attempts} attempt(s): {error}")
        return True


class BackgroundSender:
    """A dispatcher's ``run`` in a thread of its own (what `serve` runs beside the gateway):
    ``start()``, then ``stop()`` finishes the attempts in flight and hands the leases back."""

    def __init__(self, engine: Engine, **options: Any) -> None:
        self.dispatcher = WebhookDispatcher(engine, **options)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)

    def _run(self) -> None:
        try:
            self.dispatcher.run(self._stop)
        except Exception:  # noqa: BLE001 - a bug here must not take the gateway down; it is logged
            log.exception("the webhook sender stopped")

    def start(self) -> BackgroundSender:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        self.dispatcher.close()


def redeliver(engine: Engine, webhook_id: str, event_id: int) -> str | None:
    """Send one event to one webhook once more (one attempt, recorded); the error, or None when it was accepted."""
    with engine.read() as conn:
        endpoint = webhooks.endpoint(conn, webhook_id)
        if endpoint is None:
            raise NotFound(f"no webhook {webhook_id!r}: it was removed")
        found = eventlog.read(conn, event_id - 1, upto=event_id, limit=1)
        number = webhooks.attempts_so_far(conn, webhook_id, event_id)
    if not found:
        raise NotFound(f"no event {event_id}")
    with WebhookDispatcher(engine) as dispatcher:
        tried = dispatcher.post(endpoint, found[0], EventView.json_bytes(found[0]), number + 1)
        dispatcher._record(endpoint, found[0], tried, renew=False)
    return tried.error
