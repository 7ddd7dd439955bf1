"""events tail and notifications list, including --follow across processes (SPEC §1, §8)."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from .support import assert_error, open_engine, place, snapshot


def _default_sigint() -> None:
    """Ctrl+C reaches the follower even when the tests themselves were started in the background
    (`make test &`, nohup): a shell starts those with SIGINT ignored, children inherit that, and
    Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Follower:
    """A `deliverycli ... --follow` process whose stdout lines are read on a thread, with timeouts."""

    def __init__(self, db: str, *args: str) -> None:
        self.stderr = tempfile.TemporaryFile(mode="w+")
        env = os.environ | {"NO_COLOR": "1", "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deliverycli", "--db", db, *args], stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env,
            preexec_fn=_default_sigint,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise AssertionError(f"no matching line within {timeout}s; saw {self.seen!r}") from None
            if line is None:
                raise AssertionError(f"follower ended (exit {self.proc.wait()}): {self.error_output()} saw {self.seen!r}")
            self.seen.append(line)
            if predicate(line):
                return line

    def error_output(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()

    def interrupt(self) -> int:
        """Ctrl+C: the follower must stop cleanly, exit 0, no traceback."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=10)
        assert "Traceback" not in self.error_output(), self.error_output()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.stderr.close()


def _json_where(**want: Any) -> Callable[[str], bool]:
    def match(line: str) -> bool:
        data = json.loads(line)
        return all(data.get(k) == v for k, v in want.items())

    return match


def test_events_tail_json_lines_and_filters(cli, demo_db):
    first = place(demo_db, items=("margherita",))
    second = place(demo_db, customer="bob", store="seoul-bbq", items=("bulgogi",))
    with open_engine(demo_db) as engine:
        newest = [e.as_dict() for e in engine.latest_events(3)]
    before = snapshot(demo_db)

    tail = cli("events", "tail", "--json", "--limit", "3", db=demo_db)
    assert tail.code == 0
    assert tail.lines() == newest  # JSON lines: one object per event, oldest first
    assert len(tail.stdout.splitlines()) == 3
    for event in tail.lines():
        assert {"id", "event_type", "schema_version", "order_id", "actor", "occurred_at", "payload"} <= set(event)

    of_first = cli("events", "tail", "--order", first, "--json", "--limit", "1000", db=demo_db).lines()
    assert of_first and {e["order_id"] for e in of_first} == {first}
    assert of_first[0]["event_type"] == "OrderPlaced" and of_first[0]["actor"] == "customer:alice"
    assert [e["id"] for e in of_first] == sorted(e["id"] for e in of_first)

    human = cli("events", "tail", "--limit", "1000", db=demo_db)
    assert human.code == 0
    placed_line = next(line for line in human.stdout.splitlines() if "OrderPlaced" in line and second in line)
    assert re.match(r"^\d\d:\d\d:\d\d\s+#\d+\s+" + re.escape(second) + r"\s+OrderPlaced\s+customer:bob$", placed_line), placed_line

    assert_error(cli("events", "tail", "--order", "ord-999999", "--json", db=demo_db), 3)
    assert_error(cli("events", "tail", "--limit", "-1", "--json", db=demo_db), 2)
    assert snapshot(demo_db) == before


def test_notifications_list(cli, demo_db):
    order = place(demo_db, items=("margherita",))
    place(demo_db, customer="bob", store="seoul-bbq", items=("bulgogi",))
    with open_engine(demo_db) as engine:
        engine.accept_order(order, "pizza-palace")
    before = snapshot(demo_db)

    alice = cli("notifications", "list", "--customer", "alice", "--json", db=demo_db)
    assert alice.code == 0
    assert isinstance(alice.json, list) and all("id" in n for n in alice.json)
    assert {n["recipient"] for n in alice.json} == {"customer:alice"}
    assert [n["status"] for n in alice.json] == ["PENDING_PAYMENT", "PAID", "COOKING"]
    assert [n["id"] for n in alice.json] == sorted(n["id"] for n in alice.json)

    everyone = cli("notifications", "list", "--limit", "2", "--json", db=demo_db).json
    assert len(everyone) == 2 and everyone == snapshot(demo_db)["notifications"][-2:]

    human = cli("notifications", "list", "--customer", "alice", db=demo_db)
    assert human.code == 0 and "♨ COOKING" in human.stdout and "$ PAID" in human.stdout

    assert_error(cli("notifications", "list", "--customer", "alice", "--rider", "rider-kim", "--json", db=demo_db), 2)
    assert_error(cli("notifications", "list", "--customer", "nobody", "--json", db=demo_db), 3)
    assert snapshot(demo_db) == before


def test_events_tail_follow_sees_another_process_commit(cli, demo_db):
    earlier = place(demo_db, items=("margherita",))
    follower = Follower(demo_db, "events", "tail", "--follow", "--json")
    try:
        follower.wait_for(_json_where(order_id=earlier, event_type="OrderPlaced"))  # the backlog first: it is running
        placed = cli("orders", "place", "--customer", "bob", "--store", "seoul-bbq", "--item", "bulgogi", "--address", "2 Side St", "--json", db=demo_db)
        assert placed.code == 0
        order = placed.json["id"]
        done = time.monotonic()
        line = follower.wait_for(_json_where(order_id=order, event_type="OrderPlaced"), timeout=5)
        assert time.monotonic() - done < 5
        assert json.loads(line)["actor"] == "customer:bob"
        follower.wait_for(_json_where(order_id=order, event_type="NotificationSent"), timeout=5)
        ids = [json.loads(line)["id"] for line in follower.seen]
        assert ids == sorted(set(ids)), "every event once, in order"
        assert follower.interrupt() == 0
    finally:
        follower.kill()


def test_events_tail_follow_human_and_order_filter(demo_db):
    order = place(demo_db, items=("margherita",))
    other = place(demo_db, customer="bob", store="seoul-bbq", items=("bulgogi",))
    follower = Follower(demo_db, "events", "tail", "--follow", "--order", order, "--limit", "1")
    try:
        follower.wait_for(lambda line: order in line)
        with open_engine(demo_db) as engine:
            engine.accept_order(other, "seoul-bbq")
            engine.accept_order(order, "pizza-palace")
        follower.wait_for(lambda line: "CookingStarted" in line, timeout=5)
        assert all(other not in line for line in follower.seen)
        assert follower.interrupt() == 0
    finally:
        follower.kill()


def test_notifications_follow_sees_another_process_commit(cli, demo_db):
    earlier = place(demo_db, items=("margherita",))
    follower = Follower(demo_db, "notifications", "list", "--customer", "alice", "--follow", "--json")
    try:
        follower.wait_for(_json_where(order_id=earlier, status="PAID"))
        place(demo_db, customer="bob", store="seoul-bbq", items=("bulgogi",))  # not alice's: never shown
        placed = cli("orders", "place", "--customer", "alice", "--store", "green-bowl", "--item", "poke", "--address", "1 Main St", "--json", db=demo_db)
        assert placed.code == 0
        order = placed.json["id"]
        line = follower.wait_for(_json_where(order_id=order, status="PAID"), timeout=5)
        assert json.loads(line)["recipient"] == "customer:alice"
        assert {json.loads(line)["recipient"] for line in follower.seen} == {"customer:alice"}
        ids = [json.loads(line)["id"] for line in follower.seen]
        assert ids == sorted(set(ids))
        assert follower.interrupt() == 0
    finally:
        follower.kill()
