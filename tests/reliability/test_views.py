"""§1 in the product: `deliverycli doctor --check` names the orders whose promises are broken, and
`deliverycli views rebuild` rebuilds the status view from the event log (never re-sending a
notification), safely while other processes work and resumably after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa

from deliverycli.engine import eventlog, notification, status, storage, store
from deliverycli.engine.payment import records as payment
from deliverycli.engine.payment import simulated
from deliverycli.engine.bootstrap import gateway_url
from deliverycli.engine.events import PaymentRefunded
from deliverycli.engine.simulation import SimulationOptions, simulate
from deliverycli.engine.storage import utcnow
from deliverycli.settings import load_settings

from .procs import fork_cli, warm_up
from .support import assert_invariants, demo, open_engine, orders_in_every_status


def _simulated(db: str, orders: int = 40, seed: int = 5) -> None:
    demo(db).close()
    simulate(load_settings(db=db), SimulationOptions(orders=orders, seed=seed, cancel_rate=0.2, reject_rate=0.1, payment_failure_rate=0.05))


def _tamper(db: str, *statements: tuple[sa.Executable, dict] | sa.Executable, ledger: bool = False) -> None:
    url = storage.database_url(db)
    eng = storage.make_engine(gateway_url(url) if ledger else url)
    with eng.begin() as conn:
        for statement in statements:
            conn.execute(statement)
    eng.dispose()


def _notes_and_head(db: str) -> tuple[list[dict], int, int]:
    with open_engine(db) as engine:
        with engine.read() as conn:
            sent = len(eventlog.read(conn, 0, types=["NotificationSent"], limit=1_000_000))
        return engine.notifications.list(limit=10_000), engine.events.head(), sent


def test_doctor_check_passes_on_a_healthy_database(db_url: str) -> None:
    warm_up()
    _simulated(db_url)
    result = fork_cli("doctor", "--check", "--json", db=db_url)
    assert result.code == 0, result.stdout
    report = result.json
    assert report["healthy"] and report["invariants"]["ok"] and report["invariants"]["orders"] == 40
    human = fork_cli("doctor", "--check", db=db_url)
    assert human.code == 0 and "40 orders" in human.stdout and "all hold" in human.stdout


def test_doctor_check_exits_non_zero_and_names_the_offending_orders(db_url: str) -> None:
    warm_up()
    with demo(db_url) as engine:
        o = orders_in_every_status(engine)
    _tamper(
        db_url,
        # the status view says something the log does not
        status.order_status.update().where(status.order_status.c.order_id == o["COOKING"]).values(status="DELIVERED"),
        # a notification went missing
        notification.notifications.delete().where(
            notification.notifications.c.order_id == o["READY_FOR_PICKUP"], notification.notifications.c.recipient_type == "customer",
            notification.notifications.c.status == "COOKING",
        ),
        # a second refund of a cancelled order
        eventlog.events.insert().values(
            event_type="PaymentRefunded", schema_version=1, order_id=o["CANCELLED"], actor="system:payment", context="payment",
            occurred_at=utcnow(), payload=PaymentRefunded(order_id=o["CANCELLED"], amount=12000, refund_id="re_again").model_dump(mode="json"),
        ),
        # a payment record that says refunded, with no refund
        payment.payments.update().where(payment.payments.c.order_id == o["DELIVERED"]).values(status="REFUNDED"),
        # a declined order on the store's list
        store.store_orders.insert().values(
            order_id=o["REJECTED"], store_id="pizza-palace", status="NEW", items=[], total=2000, address="x", reason=None,
            received_at=utcnow(), updated_at=utcnow(), version=1,
        ),
    )
    _tamper(
        db_url,
        simulated.gateway_ledger.insert().values(idempotency_key="ord-424242", charge_id="ch_x", amount=5000, card_suffix="4242", charged_at=utcnow()),
        ledger=True,
    )
    result = fork_cli("doctor", "--check", "--json", db=db_url)
    assert result.code == 1
    report = result.json
    assert not report["healthy"] and not report["invariants"]["ok"]
    offending = report["invariants"]["offending_orders"]
    assert set(offending) == {o["COOKING"], o["READY_FOR_PICKUP"], o["CANCELLED"], o["DELIVERED"], o["REJECTED"], "ord-424242"}, report["invariants"]["problems"]
    checks = {(p["order_id"], p["check"]) for p in report["invariants"]["problems"]}
    assert (o["COOKING"], "status-view") in checks
    assert (o["READY_FOR_PICKUP"], "notifications") in checks
    assert (o["CANCELLED"], "duplicate-event") in checks
    assert (o["DELIVERED"], "payment-status") in checks
    assert (o["REJECTED"], "store-without-payment") in checks
    assert ("ord-424242", "charge-without-order") in checks
    human = fork_cli("doctor", "--check", db=db_url)
    assert human.code == 1
    for order_id in offending:
        assert f"invariant broken: order {order_id}:" in human.stdout
    assert "PaymentRefunded was recorded 2 times" in human.stdout
    assert "reached the store without an approved charge" in human.stdout


def test_views_rebuild_repairs_the_status_view_and_sends_nothing_again(db_url: str) -> None:
    warm_up()
    _simulated(db_url, orders=40)
    notes, head, sent = _notes_and_head(db_url)
    with open_engine(db_url) as engine:
        victims = [o.id for o in engine.orders.list(limit=3)]
        expected = {oid: engine.orders.status(oid) for oid in victims}
    _tamper(
        db_url,
        status.order_status.delete().where(status.order_status.c.order_id == victims[0]),
        status.order_timeline.delete().where(status.order_timeline.c.order_id == victims[1]),
        status.order_status.update().where(status.order_status.c.order_id == victims[2]).values(status="PAID", reason="tampered"),
    )
    broken = fork_cli("doctor", "--check", "--json", db=db_url)
    assert broken.code == 1 and set(broken.json["invariants"]["offending_orders"]) == set(victims)
    for mode in ("atomic", "batched"):
        rebuilt = fork_cli("views", "rebuild", "--mode", mode, "--json", db=db_url)
        assert rebuilt.code == 0, rebuilt.stdout
        assert rebuilt.json["mode"] == mode and rebuilt.json["orders"] == 40 and "not rebuilt" in rebuilt.json["notifications"]
        assert fork_cli("doctor", "--check", db=db_url).code == 0
        with open_engine(db_url) as engine:
            assert {oid: engine.orders.status(oid) for oid in victims} == expected
        assert _notes_and_head(db_url) == (notes, head, sent)  # no notification re-sent, no event appended
    human = fork_cli("views", "rebuild", db=db_url)
    assert human.code == 0 and "Status view rebuilt from the event log" in human.stdout
    assert "NOT rebuilt" in fork_cli("views", "rebuild", "--help").stdout


def test_the_rebuild_refuses_while_status_events_are_parked(db_url: str) -> None:
    warm_up()
    with demo(db_url) as engine:
        oid = engine.orders.place("alice", "pizza-palace", ["cola"], "1 Main St").id
        first = engine.events.read(order_id=oid)[0]
    _tamper(
        db_url,
        eventlog.dead_letters.insert().values(
            subscriber="status", event_id=first.id, order_id=oid, event_type=first.event_type, error="test", attempts=5, parked_at=utcnow()
        ),
    )
    refused = fork_cli("views", "rebuild", "--json", db=db_url)
    assert refused.code == 4 and "deadletters retry" in refused.error()["message"]


def test_rebuild_while_other_processes_work_and_after_being_killed(db_url: str) -> None:
    """Batched rebuilds (the resumable kind) run while a simulation drives orders in another
    process; then a rebuild is SIGKILLed half-way and the next start finishes it."""
    warm_up()
    _simulated(db_url, orders=20)
    env = os.environ | {"NO_COLOR": "1"}
    busy = subprocess.Popen(
        [sys.executable, "-m", "deliverycli", "--db", db_url, "simulate", "--orders", "40", "--seed", "9", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    rebuilds = 0
    try:
        deadline = time.monotonic() + 60
        while busy.poll() is None and time.monotonic() < deadline:
            result = fork_cli("views", "rebuild", "--mode", "batched" if rebuilds % 2 == 0 else "atomic", "--json", db=db_url)
            assert result.code == 0, result.stdout
            rebuilds += 1
        out, err = busy.communicate(timeout=120)
    finally:
        if busy.poll() is None:
            busy.kill()
    assert busy.returncode == 0, err
    assert rebuilds >= 2
    with open_engine(db_url) as engine:
        assert_invariants(engine)

    # a batched rebuild SIGKILLed half-way (it kills itself after its third batch): the next start finishes it
    killed = subprocess.run([sys.executable, "-c", KILLED_REBUILD, db_url], capture_output=True, text=True, timeout=120, env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with open_engine(db_url, catch_up=False) as engine:
        assert engine.ops.lag()["status"] > 0  # the view is incomplete ...
        assert len(engine.orders.list(limit=10_000)) < 60
    with open_engine(db_url) as engine:  # ... until any drain (here: catch-up on start) completes it
        assert set(engine.ops.lag().values()) == {0}
        assert len(engine.orders.list(limit=10_000)) == 60
        assert_invariants(engine)


KILLED_REBUILD = """
import os, signal, sys
from deliverycli.engine import rebuild
from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings
engine = Engine.open(load_settings(db=sys.argv[1]), catch_up=False)
calls = []
def progress(done, total):
    calls.append(done)
    if len(calls) == 4:  # the report before the first batch, then three batches committed
        os.kill(os.getpid(), signal.SIGKILL)
rebuild.rebuild_status_view(engine, mode="batched", batch=25, progress=progress)
"""


def test_views_rebuild_shows_a_progress_bar_on_a_terminal(tmp_path) -> None:
    import pty

    db = str(tmp_path / "bar.db")
    _simulated(db, orders=20)
    master, slave = pty.openpty()
    env = os.environ | {"COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.run(
        [sys.executable, "-m", "deliverycli", "--db", db, "views", "rebuild", "--mode", "batched"],
        stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=env, timeout=60,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    terminal = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "rebuilding status view" in terminal and "events" in terminal  # the bar, on the terminal
    assert "Status view rebuilt" in proc.stdout.decode()
