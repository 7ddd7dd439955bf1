"""`deliverycli worker` as a real process: --once, progress lines, SIGTERM/SIGINT stop it cleanly
(exit 0, deregistered) after the batch in flight, and bad options change nothing (exit 2)."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest

from deliverycli.engine.commands import PlaceOrder

from .support import assert_error, open_engine, snapshot
from .test_follow_cli import PATIENCE_S, Follower


def _commit_only(db: str, customer: str = "alice") -> str:
    """An order committed by another process that does not settle its sagas (as after a crash)."""
    with open_engine(db) as engine:
        return engine.handle(PlaceOrder(customer, "pizza-palace", (("margherita", 1),), "1 Main St"), settle=False).id


def _lag(db: str) -> dict[str, int]:
    with open_engine_no_catch_up(db) as engine:
        return engine.ops.lag()


def open_engine_no_catch_up(db: str) -> Any:
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.settings import load_settings

    return Engine.open(load_settings(db=db), catch_up=False)


def test_worker_once_drains_the_backlog_and_says_what_it_did(demo_db: str, cli: Any) -> None:
    oid = _commit_only(demo_db)
    assert _lag(demo_db)["store"] == 1
    result = cli("--json", "worker", "--once", db=demo_db)
    assert result.code == 0, result.stderr
    summary = result.json
    assert summary["stopped_by"] == "once" and summary["events_applied"] > 0 and summary["batches"] >= 1
    assert not any(_lag(demo_db).values())
    with open_engine_no_catch_up(demo_db) as engine:
        assert [t.order_id for t in engine.store.queue("pizza-palace")] == [oid]
        assert engine.ops.workers() == []
    text = cli("worker", "--once", db=demo_db)
    assert text.code == 0 and "Worker drained" in text.stdout and "events applied" in text.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_running_worker_settles_another_process_s_commit_then_stops_cleanly_on_a_signal(demo_db: str, sig: int) -> None:
    worker = Follower(demo_db, "--json", "worker", "--beat-interval", "0.5")
    try:
        with open_engine_no_catch_up(demo_db) as engine:
            # registered: it is listening (PostgreSQL) or watching the head (SQLite) from now on
            deadline_wait(lambda: engine.ops.workers(), "the worker to register")
        oid = _commit_only(demo_db)
        line = json.loads(worker.wait_for(lambda text: '"events_applied"' in text and '"store"' in text))
        assert line["subscribers"]["store"] >= 1
        with open_engine_no_catch_up(demo_db) as engine:
            deadline_wait(lambda: not any(engine.ops.lag().values()), "the worker to settle the order")
            assert [t.order_id for t in engine.store.queue("pizza-palace")] == [oid]
            (listed,) = engine.ops.workers()
            assert not listed.stale
        worker.proc.send_signal(sig)
        assert worker.proc.wait(timeout=PATIENCE_S) == 0
        summary = json.loads(worker.wait_for(lambda text: '"stopped_by"' in text))
        assert summary["stopped_by"] == "stop" and summary["events_applied"] >= line["events_applied"]
        with open_engine_no_catch_up(demo_db) as engine:
            assert engine.ops.workers() == []  # deregistered on the way out
    finally:
        if worker.proc.poll() is None:
            worker.kill()


def deadline_wait(condition: Any, what: str) -> Any:
    import time

    deadline = time.monotonic() + PATIENCE_S
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return result


@pytest.mark.parametrize("args", [("--poll-interval", "0"), ("--poll-interval", "soon"), ("--beat-interval", "-1")])
def test_bad_worker_options_are_refused_and_change_nothing(demo_db: str, cli: Any, args: tuple[str, ...]) -> None:
    before = snapshot(demo_db)
    result = cli("--json", "worker", "--once", *args, db=demo_db)
    assert result.code == 2, (result.stdout, result.stderr)
    assert_error(result, 2, args[0])
    assert snapshot(demo_db) == before
