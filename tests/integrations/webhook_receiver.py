"""A webhook receiver for the tests: a real HTTP server on a loopback port, in a thread, that checks
every request's signature the way a receiver would (Standard Webhooks, written here independently
of the sender's code) and records what it got, in arrival order."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG = -1  # a behaviour's answer: never answer (hold the request until the receiver closes)


@dataclass(frozen=True)
class Received:
    msg_id: str
    timestamp: str
    body: bytes
    valid: bool  # the signature checked out with the receiver's secret
    answered: int  # the status this receiver answered

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


def verify(secret: str, msg_id: str, timestamp: str, body: bytes, signature_header: str) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()).decode()
    return any(part.startswith("v1,") and hmac.compare_digest(part[3:], expected) for part in signature_header.split())


class Receiver:
    """``with Receiver() as r:`` POST to ``r.url``; ``r.secret = ...`` once the webhook is added.

    ``behaviour(msg_id, seen)`` (``seen``: requests for that id so far, this one included) returns
    the status to answer, or HANG; by default 200. An invalid signature is answered 401.
    """

    def __init__(self, behaviour: Callable[[str, int], int] | None = None, secret: str | None = None) -> None:
        self.behaviour = behaviour or (lambda msg_id, seen: 200)
        self.secret = secret
        self.requests: list[Received] = []
        self.seen: dict[str, int] = {}
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request (a test's SIGKILL): nothing arrived
                    return
                msg_id, timestamp = self.headers.get("webhook-id", ""), self.headers.get("webhook-timestamp", "")
                valid = receiver.secret is not None and verify(receiver.secret, msg_id, timestamp, body, self.headers.get("webhook-signature", ""))
                with receiver.lock:
                    receiver.seen[msg_id] = receiver.seen.get(msg_id, 0) + 1
                    seen = receiver.seen[msg_id]
                status = receiver.behaviour(msg_id, seen) if valid else 401
                if status == HANG:
                    receiver.released.wait(120)
                    return  # the connection closes without an answer
                with receiver.changed:  # before answering: the sender's next request comes only after the answer
                    receiver.requests.append(Received(msg_id, timestamp, body, valid, status))
                    receiver.changed.notify_all()
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def accepted(self) -> list[Received]:
        """The requests answered 2xx, in arrival order (duplicates included)."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.answered < 300]

    def accepted_ids(self) -> list[int]:
        """Each event accepted, once, in the order it first arrived (as a receiver that dedupes by webhook-id keeps them)."""
        return list(dict.fromkeys(int(r.msg_id) for r in self.accepted()))

    def wait_for(self, condition: Callable[[Receiver], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver: condition not met within {timeout}s; got {[r.msg_id for r in self.requests]}")
                self.changed.wait(min(left, 0.5))

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
