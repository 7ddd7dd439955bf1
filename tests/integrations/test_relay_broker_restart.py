"""The relay rides out its NATS server going away: a private `nats-server -js` (the machine's own
binary, on a free loopback port, with its own store) is killed with SIGKILL while the relay runs and
events keep coming, then started again on the same store; the relay reconnects, and the stream ends
up exactly the log, in order, nothing twice."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings

from .support import free_port

NATS_SERVER = shutil.which("nats-server") or ("/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)

pytestmark = pytest.mark.skipif(NATS_SERVER is None, reason="no nats-server binary to run a private server")


class PrivateNats:
    def __init__(self, port: int, store: Path) -> None:
        self.port, self.store = port, store
        self.url = f"nats://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, "the private NATS server")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                return sock.recv(4) == b"INFO"
        except OSError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)


def wait_until(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def stream_ids(url: str, stream: str) -> list[str | None]:
    import asyncio

    import nats
    from nats.js.errors import NotFoundError

    async def read() -> list[str | None]:
        nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
        try:
            js = nc.jetstream()
            try:
                info = await js.stream_info(stream)
            except NotFoundError:
                return []
            if not info.state.messages:
                return []
            return [(await js.get_msg(stream, seq=s)).headers.get("Nats-Msg-Id") for s in range(info.state.first_seq, info.state.last_seq + 1)]
        finally:
            await nc.close()

    return asyncio.run(read())


def place(db: str, count: int) -> None:
    with Engine.open(load_settings(db=db)) as engine:
        for i in range(count):
            engine.orders.place("alice", "pizza-palace", ["cola"], f"{i} Restart St")


def test_the_relay_reconnects_after_its_server_is_killed_and_loses_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "shop.db")
    Engine.initialise(load_settings(db=db), demo=True)[0].close()
    server = PrivateNats(free_port(), tmp_path / "jetstream")
    server.start()
    relay = subprocess.Popen([sys.executable, "-m", "deliverycli", "--db", db, "--json", "relay", "--nats", server.url, "--stream", "RESTART", "--batch", "10"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ | {"NO_COLOR": "1"})
    try:
        place(db, 3)
        with Engine.open(load_settings(db=db), catch_up=False) as engine:
            head = engine.events.head()
        wait_until(lambda: len(stream_ids(server.url, "RESTART")) == head, "the first events in the stream")
        server.kill()
        place(db, 5)  # committed while the broker is down
        server.start()
        with Engine.open(load_settings(db=db), catch_up=False) as engine:
            head = engine.events.head()
        wait_until(lambda: server.answers() and len(stream_ids(server.url, "RESTART")) >= head, "the relay to catch up after the restart")
        relay.send_signal(signal.SIGTERM)
        out, err = relay.communicate(timeout=60)
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.communicate()
        if server.proc and server.proc.poll() is None:
            server.kill()
    assert relay.returncode == 0, err
    assert "Traceback" not in err
    assert json.loads(out)["position"] == head
    assert stream_ids_after(server) == [str(i) for i in range(1, head + 1)]


def stream_ids_after(server: PrivateNats) -> list[str | None]:
    server.start()
    try:
        return stream_ids(server.url, "RESTART")
    finally:
        server.kill()
