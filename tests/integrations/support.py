"""Real peers for the integration tests: the payment provider as a `deliverycli payment-provider
serve` subprocess, and the NATS server on this machine (DELIVERYCLI_TEST_NATS_URL)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

NATS_URL = os.environ.get("DELIVERYCLI_TEST_NATS_URL", "nats://127.0.0.1:4222")


class Provider:
    """``with Provider(ledger, port=0, ...) as p:`` the provider in its own process; ``p.url``, its
    API key ``p.api_key``, and ``p.env``: the settings that point the engine at it."""

    def __init__(self, ledger: Path, port: int = 0, *options: str, api_key: str | None = None) -> None:
        self.ledger = ledger
        argv = [sys.executable, "-m", "deliverycli", "--json", "payment-provider", "serve", "--port", str(port), "--ledger", str(ledger), *options]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ | {"NO_COLOR": "1"})
        self.info = _first_line(self.proc, timeout=60)
        self.url: str = self.info["url"]
        self.port = int(self.url.rsplit(":", 1)[1])
        # printed at a ledger's first start only: a restart on the same ledger is given the key it printed then
        self.api_key: str = self.info["api_key"] or api_key or ""
        self.env = {"DELIVERYCLI_PAYMENT_GATEWAY": "http", "DELIVERYCLI_PAYMENT_URL": self.url, "DELIVERYCLI_PAYMENT_API_KEY": self.api_key}

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop it and return its exit code (the tests expect 0: a clean stop)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        stderr = self.proc.stderr.read() if self.proc.stderr else ""
        assert "Traceback" not in stderr, stderr
        return code

    def ledger_rows(self) -> list[sa.Row]:
        """The provider's ledger, read from its file (not through its API)."""
        eng = sa.create_engine(f"sqlite:///{self.ledger}")
        try:
            with eng.connect() as conn:
                return conn.execute(sa.text("SELECT idempotency_key, charge_id, amount, refund_id FROM gateway_ledger ORDER BY idempotency_key")).all()
        finally:
            eng.dispose()

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


def _first_line(proc: subprocess.Popen, timeout: float) -> dict[str, Any]:
    """The JSON line a server prints once it listens; fails with its stderr if it exits first."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line or not line[0]:
        proc.kill()
        raise AssertionError(f"no start-up line within {timeout}s; stderr: {proc.communicate()[1]}")
    return json.loads(line[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nats_answers(url: str = NATS_URL) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=2) as sock:
            return sock.recv(4).startswith(b"INFO")
    except OSError:
        return False


needs_nats = pytest.mark.skipif(not nats_answers(), reason=f"no NATS server answers at {NATS_URL} (set DELIVERYCLI_TEST_NATS_URL)")


# -- NATS JetStream ---------------------------------------------------------------------------------


def _run(coroutine_fn: Any, *args: Any) -> Any:
    import asyncio

    import nats

    async def main() -> Any:
        nc = await nats.connect(NATS_URL, connect_timeout=5, allow_reconnect=False)
        try:
            return await coroutine_fn(nc.jetstream(), *args)
        finally:
            await nc.close()

    return asyncio.run(main())


def stream_messages(stream: str) -> list[tuple[str, str | None, bytes]]:
    """Every message in ``stream`` in stream order: (subject, Nats-Msg-Id, body); [] if there is no stream."""
    from nats.js.errors import NotFoundError

    async def read(js: Any) -> list[tuple[str, str | None, bytes]]:
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            return []
        if not info.state.messages:
            return []
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq=seq)
            out.append((msg.subject, (msg.headers or {}).get("Nats-Msg-Id"), msg.data))
        return out

    return _run(read)


def stream_count(stream: str) -> int:
    from nats.js.errors import NotFoundError

    async def count(js: Any) -> int:
        try:
            return (await js.stream_info(stream)).state.messages
        except NotFoundError:
            return 0

    return _run(count)


def delete_stream(stream: str) -> None:
    from nats.js.errors import NotFoundError

    async def delete(js: Any) -> None:
        try:
            await js.delete_stream(stream)
        except NotFoundError:
            pass

    _run(delete)


def add_stream(stream: str, subjects: list[str]) -> None:
    async def add(js: Any) -> None:
        await js.add_stream(name=stream, subjects=subjects)

    _run(add)


def publish(subject: str, data: bytes) -> int:
    """Publish one message as another service would (no Nats-Msg-Id); returns its stream sequence."""

    async def send(js: Any) -> int:
        return (await js.publish(subject, data)).seq

    return _run(send)


@pytest.fixture
def stream() -> Any:
    """A stream name of this test's own, deleted afterwards (with a subject prefix of its own)."""
    import uuid

    name = f"T{uuid.uuid4().hex[:12].upper()}"
    yield name
    delete_stream(name)
