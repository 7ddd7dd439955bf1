"""The README's consumer in another language: examples/nats-consumer/consumer.mjs (Node.js, the
`nats` npm package) reads the relayed stream in log order, every event as `events tail --json` has it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings

from .support import NATS_URL, needs_nats

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nats-consumer"

pytestmark = [
    needs_nats,
    pytest.mark.skipif(shutil.which("node") is None, reason="no Node.js (node) on PATH"),
    pytest.mark.skipif(not (EXAMPLE / "node_modules" / "nats").is_dir(),
                       reason=f"the nats npm package is not installed: npm ci --prefix {EXAMPLE} (.ci/run does it)"),
]


def consume(stream: str, *subjects: str) -> list[str]:
    proc = subprocess.run(["node", "consumer.mjs", NATS_URL, stream, *subjects, "--once"], cwd=EXAMPLE, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_a_node_consumer_reads_every_event_in_order(sqlite_db: str, stream: str, cli: Any) -> None:
    with Engine.initialise(load_settings(db=sqlite_db), demo=True)[0] as engine:
        order = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Node St").id
        engine.orders.cancel(order, "alice")
        engine.orders.place("bob", "pizza-palace", ["cola"], "2 Node St")
    prefix = stream.lower()
    assert cli("--json", "relay", "--nats", NATS_URL, "--stream", stream, "--subject-prefix", prefix, "--once", db=sqlite_db).code == 0
    events = [json.loads(line) for line in cli("--json", "events", "tail", "--limit", "1000", db=sqlite_db).stdout.splitlines()]

    def line(e: dict[str, Any]) -> str:
        return f"{e['id']} {prefix}.{e['context']}.{e['event_type']} {e['order_id']} {e['payload'].get('status', '')}".strip()

    assert consume(stream) == [line(e) for e in events]
    assert consume(stream, f"{prefix}.payment.>") == [line(e) for e in events if e["context"] == "payment"]
