"""The worker (issue 13): heartbeats on an injected clock, draining what other processes commit,
jobs, several drains sharing the subscribers on PostgreSQL (SKIP LOCKED), and exactly-once after
a worker is killed with SIGKILL in the middle of a drain."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deliverycli.engine import eventlog, workers
from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.clock import ManualClock
from deliverycli.engine.commands import AcceptOrder, CancelOrder, MarkReady
from deliverycli.engine.worker import Worker

from .support import KILLED_CHILD, check_invariants, commit_only, demo_engine
from .test_reliability import place_order_cmd

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60  # generous: the CI machine's two cores are busy


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def backlog(engine: Engine, orders: int = 6) -> list[str]:
    """Orders placed, accepted, made ready and cancelled, none of their sagas dispatched yet."""
    placed = [commit_only(engine, place_order_cmd(c, "pizza-palace", "margherita")).id for c in ("alice", "bob", "carol") * (orders // 3)]
    return placed


# -- heartbeats ---------------------------------------------------------------------------------


def test_a_worker_registers_beats_goes_stale_on_the_clock_and_deregisters(db_url: str) -> None:
    setup = demo_engine(db_url)
    setup.close()
    clock = ManualClock()
    with Engine.open(setup.settings, clock=clock) as engine:
        worker = Worker(engine, beat_interval_s=5.0)
        with engine.write() as conn:
            workers.register(conn, worker.id, clock.now(), worker.beat_interval_s)
        worker.beat()
        (listed,) = engine.ops.workers()
        assert (listed.id, listed.stale, listed.silent_s) == (worker.id, False, 0.0)
        assert engine.ops.health().healthy

        clock.advance(15.0)  # three beats missed exactly: not yet stale
        assert not engine.ops.workers()[0].stale
        clock.advance(0.5)
        (listed,) = engine.ops.workers()
        assert listed.stale and listed.silent_s == 15.5
        health = engine.ops.health()
        assert not health.healthy and any(worker.id in p and "has not beaten" in p for p in health.problems)
        assert engine.ops.overview(now=clock.now()).workers[0].stale

        worker.beat()  # it was only paused
        assert not engine.ops.workers()[0].stale and engine.ops.health().healthy

        # a worker starting long after forgets rows silent for a hundred beats, not the live ones
        clock.advance(5.0 * workers.FORGET_AFTER_BEATS + 1)
        with engine.write() as conn:
            workers.register(conn, "newcomer", clock.now(), 5.0)
        assert [w.id for w in engine.ops.workers()] == ["newcomer"]
        with engine.write() as conn:
            workers.deregister(conn, "newcomer")


def test_a_worker_run_once_drains_what_others_committed_runs_its_jobs_and_deregisters(engine: Engine, reopen: Any) -> None:
    placed = backlog(engine)
    assert engine.ops.lag()["store"] == len(placed)
    calls: list[int] = []

    def job() -> int:  # the webhook dispatcher's shape: work done, 0 when idle
        calls.append(1)
        return 2 if len(calls) == 1 else 0

    other = reopen()
    run = Worker(other, jobs=[job]).run(once=True)
    assert run.stopped_by == "once" and run.events_applied > len(placed) and run.jobs_done == 2
    assert len(calls) >= 2  # until the job had nothing left
    assert not any(engine.ops.lag().values())
    assert engine.ops.workers() == []  # deregistered on the way out
    check_invariants(engine)


def test_a_running_worker_settles_commits_of_another_process_and_stops_on_request(engine: Engine, reopen: Any) -> None:
    other = reopen()
    stop = threading.Event()
    worker = Worker(other, beat_interval_s=0.5)
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(worker.run(stop)), daemon=True)
    thread.start()
    try:
        wait_for(lambda: engine.ops.workers(), "the worker to register")
        oid = commit_only(engine, place_order_cmd("alice")).id
        wait_for(lambda: engine.store.queue("pizza-palace") and not any(engine.ops.lag().values()), "the worker to settle the order")
        commit_only(engine, AcceptOrder(oid, "pizza-palace"))
        wait_for(lambda: engine.orders.get(oid).status == "COOKING" and not any(engine.ops.lag().values()), "the acceptance to settle")
    finally:
        stop.set()
        thread.join(WAIT_S)
    assert not thread.is_alive() and result[0].stopped_by == "stop" and result[0].events_applied > 0
    assert engine.ops.workers() == []
    check_invariants(engine)


def test_a_drain_asked_to_stop_returns_after_its_round_though_work_keeps_coming(engine: Engine) -> None:
    """Under a steady stream of commits a worker's drain never runs out of work: a stop (SIGTERM)
    ends it after the round in flight. Here each subscriber batch commits one more order."""
    stop, batches = threading.Event(), []

    def more_work(subscriber: str, count: int) -> None:
        batches.append(subscriber)
        if len(batches) < 200:
            commit_only(engine, place_order_cmd("alice"))  # work for the next round
        stop.set()

    commit_only(engine, place_order_cmd("bob"))
    engine.bus.after_batch, engine.bus.stop = more_work, stop
    engine.bus.drain()
    assert 0 < len(batches) <= len(engine.bus.subscribers), "one round: each subscriber at most once"


# -- sharing the subscribers (PostgreSQL) --------------------------------------------------------


@pytest.mark.postgres
def test_a_drain_skips_a_subscriber_another_process_is_draining_instead_of_waiting(engine: Engine, reopen: Any) -> None:
    if engine.db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: there is nothing to skip")
    engine.orders.place("erin", "seoul-bbq", ["bibimbap"], "1 Test St")  # every subscriber's tracking row exists
    placed = backlog(engine)
    holder = engine.db.connect()
    tx = holder.begin()
    assert eventlog.lock_position(holder, "status", engine.clock.now()) >= 0  # "another worker" drains the status view
    try:
        other = reopen()
        other.bus.drain(skip_busy=True)  # returns at once: does not queue behind the lock (lock_timeout would fail it)
        lag = engine.ops.lag()
        assert lag["status"] > 0 and lag["store"] == 0 and lag["notification"] == 0
        assert len(engine.store.queue("pizza-palace")) == len(placed)
    finally:
        tx.rollback()
        holder.close()
    other.bus.drain(skip_busy=True)
    check_invariants(engine)


def _script(engine: Engine, mixed: bool, settled: Callable[[], None]) -> None:
    """The same commands in the same order; between phases, wait for the sagas to settle. ``mixed``:
    every other command only commits (a worker settles it), the others settle themselves too,
    skipping the subscribers a worker is draining."""
    turn = iter(range(10**6))
    run = (lambda c: commit_only(engine, c) if next(turn) % 2 else engine.handle(c)) if mixed else engine.handle
    ids = [run(place_order_cmd(c, s, i)).id for c, s, i in [("alice", "pizza-palace", "margherita"), ("bob", "seoul-bbq", "bibimbap"),
                                                              ("carol", "pizza-palace", "margherita"), ("dave", "seoul-bbq", "bibimbap")] * 4]
    settled()
    for oid in ids[:10]:
        run(AcceptOrder(oid, engine.orders.get(oid).store_id))
    settled()
    for oid in ids[:6]:
        run(MarkReady(oid, engine.orders.get(oid).store_id))
    for oid in ids[12:15]:
        run(CancelOrder(oid, engine.orders.get(oid).customer_id))
    settled()


@pytest.mark.postgres
def test_two_worker_processes_and_a_command_racing_leave_what_one_serial_process_leaves(engine: Engine, tmp_path: Path) -> None:
    """Batch-equivalence on the new path: real `deliverycli worker` processes drain while this
    process commits (some commands settling themselves, skipping what a worker drains)."""
    if engine.db.dialect.name != "postgresql":
        pytest.skip("several workers share the work on PostgreSQL")
    from conftest import _postgres_schema_url

    from .test_batches import _outcome

    serial_schema = _postgres_schema_url()
    serial = demo_engine(next(serial_schema))
    try:
        _script(serial, mixed=False, settled=lambda: None)
        check_invariants(serial)
        expected = _outcome(serial)
    finally:
        serial.close()
        serial_schema.close()

    procs = [subprocess.Popen([sys.executable, "-m", "deliverycli", "--db", engine.settings.db, "--json", "worker", "--beat-interval", "0.5"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(2)]
    try:
        wait_for(lambda: len(engine.ops.workers()) == 2, "both workers to register")
        _script(engine, mixed=True, settled=lambda: wait_for(lambda: not any(engine.ops.lag().values()), "the workers to settle"))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outs = [proc.communicate(timeout=WAIT_S) for proc in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum(int(out.strip().splitlines()[-1].split('"events_applied": ')[1].split(",")[0]) for out, _ in outs) > 0
    check_invariants(engine)
    assert _per_order(_outcome(engine)) == _per_order(expected)


def _per_order(outcome: dict[str, Any]) -> dict[str, Any]:
    """Every table alike; per order the same events in the same order, but for where the
    notifications fall between them (the notification subscriber runs beside the others)."""
    events = outcome.pop("events_per_order")
    outcome["events_per_order"] = {o: [e for e in es if e != "NotificationSent"] for o, es in events.items()}
    outcome["notifications_per_order"] = {o: es.count("NotificationSent") for o, es in events.items()}
    return outcome


# -- a worker killed mid-drain -------------------------------------------------------------------



def test_a_worker_killed_mid_drain_leaves_every_event_to_take_effect_once_after_restart(db_url: str) -> None:
    engine = demo_engine(db_url, retry_backoff_s=0.001)
    try:
        paid = [engine.orders.place(c, "pizza-palace", ["margherita"], "1 Test St").id for c in ("alice", "bob", "carol", "dave")]
        for oid in paid[:2]:
            commit_only(engine, AcceptOrder(oid, "pizza-palace"))
            commit_only(engine, MarkReady(oid, "pizza-palace"))
        commit_only(engine, CancelOrder(paid[2], "carol"))
        fresh = backlog(engine, 9)
    finally:
        engine.close()
    for kill_at in ("4", "30"):
        proc = subprocess.run([sys.executable, KILLED_CHILD, db_url, kill_at, "worker"], capture_output=True, text=True, timeout=WAIT_S, cwd=ROOT)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    with Engine.open(engine.settings, catch_up=False) as probe:
        assert any(probe.ops.lag().values())  # the kills left work behind ...
        assert len(probe.ops.workers()) == 2  # ... and the killed workers' rows, which go stale
    restart = subprocess.run([sys.executable, "-m", "deliverycli", "--db", db_url, "--json", "worker", "--once"],
                             capture_output=True, text=True, timeout=WAIT_S, cwd=ROOT)
    assert restart.returncode == 0, restart.stderr
    with Engine.open(engine.settings) as after:
        summary = check_invariants(after)
        view = summary["view"]
        assert [view[o] for o in paid] == ["READY_FOR_PICKUP", "READY_FOR_PICKUP", "CANCELLED", "PAID"]
        assert all(view[o] == "PAID" for o in fresh) and summary["by_type"]["PaymentRefunded"] == 1
        assert summary["by_type"]["StoreOrderReceived"] == len(paid) + len(fresh)
    doctor = subprocess.run([sys.executable, "-m", "deliverycli", "--db", db_url, "--json", "doctor", "--check"],
                            capture_output=True, text=True, timeout=WAIT_S, cwd=ROOT)
    report = json.loads(doctor.stdout)
    assert report["invariants"]["ok"] and report["backlog"] == 0, doctor.stdout
    # the only thing doctor may still say is that the killed workers went silent
    assert all("has not beaten" in p for p in report["problems"]), report["problems"]


def test_on_sqlite_one_worker_drains_and_another_stands_by_until_it_stops(sqlite_db: str) -> None:
    from deliverycli.engine.worker import DrainLease

    demo_engine(sqlite_db).close()
    with Engine.open(_settings(sqlite_db)) as first, Engine.open(_settings(sqlite_db)) as second:
        leases = DrainLease(first), DrainLease(second)
        assert leases[0].acquire() and leases[0].acquire()  # held: asking again keeps it
        assert not leases[1].acquire()  # the single writer is taken: stand by
        leases[0].release()
        assert leases[1].acquire()  # it stopped: the standby takes over
        leases[1].release()


def _settings(db: str) -> Any:
    from deliverycli.settings import load_settings

    return load_settings(db=db)
