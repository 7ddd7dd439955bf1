"""The gateway as the tests meet it: a real `deliverycli serve` subprocess on a free loopback port,
tokens made on the same database, and a reader for its Server-Sent Events."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conftest import PG_URL, _postgres_schema_url, open_demo_engine
from integrations.support import _first_line

ROLES = {  # a name for each test actor: (role, actor id)
    "alice": ("customer", "alice"),
    "bob": ("customer", "bob"),
    "pizza": ("store", "pizza-palace"),
    "seoul": ("store", "seoul-bbq"),
    "kim": ("rider", "rider-kim"),
    "lee": ("rider", "rider-lee"),
    "ops": ("ops", None),
}
ADDRESS = "101 Maple Rd, apt 4"


def clean_env(tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without the developer's DELIVERYCLI_* settings (the test servers' URLs stay)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELIVERYCLI_") or k.startswith("DELIVERYCLI_TEST_")}
    return env | {"DELIVERYCLI_CONFIG": str(tmp / "no-config.toml"), "NO_COLOR": "1"} | (extra or {})


class Gateway:
    """``with Gateway(db, tmp) as gw:`` a `deliverycli serve` process; ``gw.url``; ``gw.call(...)``."""

    def __init__(self, db: str, tmp: Path, *options: str, env: dict[str, str] | None = None) -> None:
        self.env = clean_env(tmp, env)
        argv = [sys.executable, "-m", "deliverycli", "--db", db, "--json", "serve", "--port", "0", *options]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        self.info = _first_line(self.proc, timeout=90)
        self.url: str = self.info["url"]
        self.http = httpx.Client(base_url=self.url, timeout=60)
        self.stderr = ""
        # The line comes once the port listens; the app answers once its engine has opened and
        # caught up (a request waits for that): after this, nothing of the start-up is still running.
        assert self.http.get("/healthz").status_code == 200

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, path, headers=headers, **kwargs)

    def stop(self) -> int:
        """SIGTERM, then its exit code; its stderr must hold no traceback."""
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        finally:
            self.stderr = self.proc.stderr.read() if self.proc.stderr else ""
        assert "Traceback" not in self.stderr, self.stderr[-4000:]
        return code

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc.poll() is None:
            self.stop()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


@dataclass
class Shop:
    """A demo database with a token per test actor (plus a revoked one), an engine on it in this
    process (another process, as far as the gateway knows), and the gateway."""

    db: str
    engine: Any
    gateway: Gateway
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, who: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.gateway.call(method, path, self.tokens[who] if who else None, **kwargs)

    def place(self, who: str = "alice", store: str = "pizza-palace", items: list[dict[str, Any]] | None = None, **body: Any) -> httpx.Response:
        payload = {"store_id": store, "items": items or [{"menu_item_id": "margherita", "quantity": 2}, {"menu_item_id": "cola"}], "address": ADDRESS}
        return self.call("POST", "/orders", who, json=payload | body)


def make_tokens(engine: Any) -> dict[str, str]:
    tokens = {name: engine.tokens.create(role, actor).token for name, (role, actor) in ROLES.items()}
    revoked = engine.tokens.create("customer", "alice")
    engine.tokens.revoke(revoked.id)
    tokens["revoked"] = revoked.token
    tokens["bad"] = "dlv_" + "x" * 43  # the shape of a token, issued by no one
    return tokens


@contextlib.contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    """A fresh database URL on ``backend``."""
    if backend == "sqlite":
        yield str(tmp / "shop.db")
    else:
        yield from _postgres_schema_url()


@contextlib.contextmanager
def shop(backend: str, tmp: Path, *options: str, env: dict[str, str] | None = None) -> Iterator[Shop]:
    """A demo shop served by a gateway (see ``Shop``)."""
    with isolated_settings(tmp), database(backend, tmp) as db:
        engine = open_demo_engine(db, retry_backoff_s=0.001)
        try:
            tokens = make_tokens(engine)
            with Gateway(db, tmp, *options, env=env) as gateway:
                yield Shop(db, engine, gateway, tokens)
        finally:
            engine.close()


@contextlib.contextmanager
def isolated_settings(tmp: Path) -> Iterator[None]:
    """This process's settings without the developer's (for fixtures wider than one test)."""
    import pytest

    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("DELIVERYCLI_") and not name.startswith("DELIVERYCLI_TEST_"):
                mp.delenv(name)
        mp.setenv("DELIVERYCLI_CONFIG", str(tmp / "no-config.toml"))
        yield


def backends() -> list[Any]:
    import pytest

    return ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="DELIVERYCLI_TEST_POSTGRES_URL not set")])]


# -- Server-Sent Events ---------------------------------------------------------------------------


@dataclass
class SseEvent:
    id: int | None
    event: str
    data: Any


class SseReader:
    """Reads a Server-Sent Events response on a thread; ``wait_for(predicate)`` waits on what arrived."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: list[SseEvent] = []
        self._arrived: queue.Queue[SseEvent | None] = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self.response.iter_lines():
                if line.startswith(":"):  # a ping (comment)
                    continue
                if line:
                    name, _, value = line.partition(":")
                    fields[name] = fields.get(name, "") + value.removeprefix(" ")
                    continue
                if "data" in fields:
                    self._arrived.put(SseEvent(int(fields["id"]) if "id" in fields else None, fields.get("event", "message"), json.loads(fields["data"])))
                fields = {}
        except (httpx.HTTPError, RuntimeError, ValueError) as exc:  # closed under it by the test: the end of the stream
            self.error = exc
        finally:
            self._arrived.put(None)

    def wait_for(self, done: Callable[[list[SseEvent]], bool], timeout: float = 30.0) -> list[SseEvent]:
        """Events arrived until ``done(events)`` holds; fails after ``timeout`` seconds (a bound, not a measurement)."""
        import time

        deadline = time.monotonic() + timeout
        while not done(self.events):
            left = deadline - time.monotonic()
            try:
                event = self._arrived.get(timeout=max(0.0, left))
            except queue.Empty:
                raise AssertionError(f"the stream did not deliver what was awaited within {timeout}s; got {[(e.id, e.event) for e in self.events]}") from None
            if event is None:
                raise AssertionError(f"the stream ended ({self.error!r}); got {[(e.id, e.event) for e in self.events]}")
            self.events.append(event)
        return self.events
