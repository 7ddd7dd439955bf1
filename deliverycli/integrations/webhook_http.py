"""One webhook request: signed per Standard Webhooks, sent with httpx, its outcome as an ``Attempt``.

``webhook-id`` is the event's sequence number, ``webhook-timestamp`` Unix seconds, and
``webhook-signature`` is ``v1,`` and the base64 HMAC-SHA256 of ``"{id}.{timestamp}.{body}"`` keyed
with the base64-decoded part of the secret after ``whsec_``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from ..engine import webhooks
from ..engine.events import StoredEvent


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value (Standard Webhooks, version 1)."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(endpoint: webhooks.Endpoint, event: StoredEvent, body: bytes, timestamp: int) -> dict[str, str]:
    msg_id = str(event.id)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": sign(endpoint.key, msg_id, timestamp, body)}


@dataclass(frozen=True)
class Attempt:
    """One POST of one event: its number for that event, the answer (or none), how long it took."""

    number: int
    status: int | None
    duration_ms: float
    error: str | None  # None: a 2xx
    at: datetime  # when it was sent (the engine's clock)
    retry_after_s: float | None = None


def new_client(timeout_s: float) -> httpx.Client:
    """The HTTP client a sender shares between its threads: a timeout on connecting and on each read
    or write; redirects are not followed (a webhook URL says where to deliver)."""
    return httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False,
                        headers={"user-agent": f"deliverycli-webhooks/{_version()}", "content-type": "application/json"})


def post(client: httpx.Client, endpoint: webhooks.Endpoint, event: StoredEvent, body: bytes, number: int, at: datetime,
         max_retry_after_s: float) -> Attempt:
    """POST ``body`` (the event) to the endpoint, signed at ``at``; a 2xx is success."""
    headers = signed_headers(endpoint, event, body, int(at.timestamp()))
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None
    started = time.perf_counter()
    try:
        response = client.post(endpoint.url, content=body, headers=headers)
        status = response.status_code
        if not 200 <= status < 300:
            text = " ".join(response.text[:200].split())
            error = f"HTTP {status}" + (f": {text}" if text else "")
            retry_after = _retry_after(response, max_retry_after_s)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # no answer; or a URL httpx refuses (recorded, then parked)
        error = _describe(exc)
    return Attempt(number, status, (time.perf_counter() - started) * 1000, error, at, retry_after)


def _retry_after(response: httpx.Response, cap_s: float) -> float | None:
    """A 429's or 503's Retry-After in seconds (at most ``cap_s``), if it gives one."""
    value = response.headers.get("retry-after", "")
    if response.status_code in (429, 503) and value.isdigit():
        return min(float(value), cap_s)
    return None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deliverycli")
    except PackageNotFoundError:  # run from a source tree
        return "0"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
