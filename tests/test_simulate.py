"""deliverycli simulate: deterministic per seed, a summary that adds up, resumable after SIGKILL,
bad options refused; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from deliverycli.engine.ordering import repository as ordering
from deliverycli.engine.payment import records as payment
from deliverycli.engine.bootstrap import Engine, gateway_url
from deliverycli.engine.lifecycle import FINAL
from deliverycli.engine.simulation import SimulationOptions, simulate
from deliverycli.settings import load_settings



def open_demo_engine(db: str) -> Engine:
    engine, _ = Engine.initialise(load_settings(db=db), demo=True)
    return engine


def _run(db: str, **options) -> dict:
    return simulate(load_settings(db=db), SimulationOptions(**options))


def _statuses(db: str) -> dict[str, str]:
    with Engine.open(load_settings(db=db), catch_up=False) as engine, engine.read() as conn:
        return dict(conn.execute(sa.select(ordering.orders.c.id, ordering.orders.c.status)).all())


def _placed(db: str) -> int:
    """Orders placed so far, read without the engine (the simulation may hold the write lock)."""
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM orders").fetchone()[0]


def _assert_adds_up(db: str, summary: dict) -> None:
    assert summary["unfinished"] == 0
    assert sum(summary["orders_by_status"].values()) == summary["orders"]
    assert set(summary["orders_by_status"]) <= {s.value for s in FINAL}
    pay = summary["payments"]
    assert pay["charged"] - pay["refunded"] == pay["confirmed_orders_total"]
    with Engine.open(load_settings(db=db), catch_up=False) as engine, engine.read() as conn:
        statuses = dict(conn.execute(sa.select(ordering.orders.c.id, ordering.orders.c.status)).all())
        totals = dict(conn.execute(sa.select(ordering.orders.c.id, ordering.orders.c.total)).all())
        payments = {r.order_id: r for r in conn.execute(sa.select(payment.payments))}
        assert engine.ops.health().problems == []
    # Every order is in exactly one final status; money follows the status.
    assert all(status in {s.value for s in FINAL} for status in statuses.values())
    for order_id, status in statuses.items():
        paid = payments.get(order_id)
        if status == "CONFIRMED":
            assert paid is not None and paid.status == "APPROVED" and paid.amount == totals[order_id]
        elif status == "CANCELLED":
            assert paid is not None and paid.status == "REFUNDED"
        else:  # REJECTED: never charged
            assert paid is None or paid.status == "DECLINED"


def test_same_seed_same_run(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        db = str(tmp_path / f"{name}.db")
        open_demo_engine(db).close()
        summary = _run(db, orders=80, seed=11, cancel_rate=0.2, reject_rate=0.1, payment_failure_rate=0.1)
        runs.append((summary, _statuses(db)))
    (first, first_statuses), (second, second_statuses) = runs
    assert first_statuses == second_statuses
    assert first["events"] == second["events"] and first["orders_by_status"] == second["orders_by_status"]
    assert {"CONFIRMED", "CANCELLED", "REJECTED"} <= set(first["orders_by_status"])  # every fate occurred
    other = str(tmp_path / "c.db")
    open_demo_engine(other).close()
    _run(other, orders=80, seed=12, cancel_rate=0.2, reject_rate=0.1, payment_failure_rate=0.1)
    assert _statuses(other) != first_statuses


def test_summary_adds_up_and_world_is_created(db_url: str) -> None:
    open_demo_engine(db_url).close()
    summary = _run(db_url, orders=40, stores=5, riders=4, seed=3, cancel_rate=0.2, reject_rate=0.1, payment_failure_rate=0.05)
    assert summary["orders"] == 40
    _assert_adds_up(db_url, summary)
    with Engine.open(load_settings(db=db_url)) as engine:
        stores = [s.id for s in engine.catalog.stores()]
        assert len(stores) == 5 and "sim-store-001" in stores and "pizza-palace" in stores
        assert len(engine.catalog.riders()) == 4
        assert all(engine.catalog.menu(s) for s in stores)
        # one customer notification per status change of every order
        timeline = {o: engine.orders.status(o).timeline for o in list(_statuses(db_url))[:10]}
    for order_id, entries in timeline.items():
        changes = sum(1 for before, after in zip([None] + entries, entries) if before is None or before.status != after.status)
        with Engine.open(load_settings(db=db_url), catch_up=False) as engine:
            assert len([n for n in engine.notifications.list(limit=10_000) if n.order_id == order_id and n.recipient_type == "customer"]) == changes


def test_resume_after_sigkill_neither_loses_nor_repeats(tmp_path: Path) -> None:
    db = str(tmp_path / "sim.db")
    open_demo_engine(db).close()
    env = os.environ | {"NO_COLOR": "1"}
    argv = [sys.executable, "-m", "deliverycli", "--db", db, "simulate", "--orders", "600", "--seed", "4", "--payment-failure-rate", "0.05", "--json"]
    kills = 0
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # Kill it mid-run: once it has placed some orders (however loaded the machine is), not at a fixed time.
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline and _placed(db) < 40:
        time.sleep(0.05)
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
        kills += 1
    child.wait()
    assert kills == 1, "the simulation finished before it could be interrupted; raise --orders"
    # Resume until done (a resume can itself be interrupted; here it is not).
    resumed = subprocess.run([sys.executable, "-m", "deliverycli", "--db", db, "simulate", "--resume", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    import json

    summary = json.loads(resumed.stdout)
    assert summary["resumed"] is True and summary["orders"] == 600
    _assert_adds_up(db, summary)
    with Engine.open(load_settings(db=db), catch_up=False) as engine, engine.read() as conn:
        keys = conn.execute(sa.select(ordering.orders.c.idempotency_key)).scalars().all()
    assert len(keys) == len(set(keys)) == 600  # no order placed twice
    ledger = sa.create_engine(gateway_url(sa.engine.make_url("sqlite:///" + db)))
    with ledger.connect() as conn:
        charges = conn.execute(sa.text("SELECT count(*), count(DISTINCT idempotency_key) FROM gateway_ledger")).one()
    ledger.dispose()
    assert charges[0] == charges[1]  # never charged twice
    again = subprocess.run([sys.executable, "-m", "deliverycli", "--db", db, "simulate", "--resume", "--json"], capture_output=True, text=True, env=env)
    assert again.returncode == 3 and "no interrupted simulation" in again.stdout


def test_bad_options_exit_2_and_change_nothing(tmp_path: Path, cli) -> None:
    db = str(tmp_path / "bad.db")
    open_demo_engine(db).close()
    before = _statuses(db)
    for args in (
        ("--orders", "-1"),
        ("--orders", "10", "--cancel-rate", "1.5"),
        ("--orders", "10", "--reject-rate", "-0.1"),
        ("--orders", "10", "--cancel-rate", "0.6", "--reject-rate", "0.6"),
        ("--orders", "10", "--stores", "0"),
        ("--orders", "10", "--payment-failure-rate", "2"),
        ("--orders", "10", "--payment-latency-ms", "-5"),
        ("--orders", "ten"),
        (),
    ):
        result = cli("simulate", *args, "--json", db=db)
        assert result.code == 2, (args, result.stdout, result.stderr)
        assert result.json["error"]["message"]
    assert _statuses(db) == before
    with Engine.open(load_settings(db=db), catch_up=False) as engine:
        assert engine.catalog.stores() == open_demo_engine(str(tmp_path / "fresh.db")).catalog.stores()


def test_a_run_that_leaves_orders_unfinished_exits_4_and_says_why(tmp_path: Path) -> None:
    """An order whose delivery cannot be opened (its event parked as a dead letter) stays READY_FOR_PICKUP:
    the run stops short, and says so with exit 4 instead of reporting success (issue 9 §4)."""
    from deliverycli.engine.delivery import deliveries
    from deliverycli.engine.storage import utcnow

    from conftest import run_cli

    db = str(tmp_path / "sim.db")
    with open_demo_engine(db) as engine, engine.write() as conn:
        # a stray delivery row for the third order to come: opening its delivery will fail
        conn.execute(deliveries.insert().values(order_id="ord-000003", store_id="x", address="x", status="COMPLETED", requested_at=utcnow(), version=1))
    env = {"DELIVERYCLI_RETRY_BACKOFF_S": "0.001", "DELIVERYCLI_RETRY_MAX_ATTEMPTS": "2"}
    result = run_cli("simulate", "--orders", "5", "--cancel-rate", "0", "--reject-rate", "0", "--seed", "1", "--json", db=db, env=env)
    assert result.code == 4, (result.stdout, result.stderr)
    assert result.json["unfinished"] == 1 and result.json["orders_by_status"].get("READY_FOR_PICKUP") == 1
    assert "1 order(s) left unfinished (1 READY_FOR_PICKUP)" in result.stderr and "simulate --resume" in result.stderr


def test_deadlines_on_simulated_time_settle_the_late_and_count_what_they_did(db_url: str) -> None:
    """`simulate --deadlines`: stores that never answer are rejected and refunded, late riders alert,
    silent customers are confirmed by the system, all on simulated time (a day per wave, in seconds)."""
    open_demo_engine(db_url).close()
    options = dict(orders=120, seed=5, cancel_rate=0.1, reject_rate=0.05, deadlines=True, ignore_rate=0.2, late_pickup_rate=0.2, unconfirmed_rate=0.3)
    summary = _run(db_url, **options)
    _assert_adds_up(db_url, summary)
    deadlines = summary["deadlines"]
    assert deadlines["auto_rejected"] > 0 and deadlines["pickup_alerts"] > 0 and deadlines["auto_confirmed"] > 0
    with Engine.open(load_settings(db=db_url), catch_up=False) as engine, engine.read() as conn:
        from deliverycli.engine import eventlog

        e = eventlog.events
        by_system = dict(conn.execute(
            sa.select(e.c.event_type, sa.func.count()).where(e.c.actor == "system:deadlines").group_by(e.c.event_type)
        ).all())
        assert engine.ops.check_invariants().problems == []
    assert by_system == {"StoreOrderRejected": deadlines["auto_rejected"], "PickupOverdue": deadlines["pickup_alerts"],
                         "DeliveryConfirmed": deadlines["auto_confirmed"]}
    # the same seed plans the same lateness: what the deadlines did is deterministic too
    other = str(Path(db_url).with_name("again.db")) if not db_url.startswith("postgres") else None
    if other:
        open_demo_engine(other).close()
        assert _run(other, **options)["deadlines"] == deadlines
