"""Deadlines (durable timers), on SQLite and PostgreSQL, with an injected clock (no sleeping): each
deadline fires once and does what it promises; moving on first cancels it; a store accepting while
the deadline fires gives exactly one outcome; several engines and processes racing for due timers
fire each once; a process killed with SIGKILL while firing leaves the rest to fire once on restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.clock import ManualClock
from deliverycli.engine.commands import CompleteDelivery
from deliverycli.engine.deadlines.timers import timers
from deliverycli.engine.errors import Conflict, IllegalTransition

from .support import check_invariants, commit_only, count, event_types, events_of, ledger

CHILD = Path(__file__).with_name("deadline_child.py")
STORE, ITEM, CUSTOMER, RIDER = "green-bowl", "poke", "alice", "rider-kim"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def eng(reopen: Any, clock: ManualClock) -> Engine:
    """An engine on the demo database whose time moves only when the test says."""
    return reopen(clock=clock)


def paid(eng: Engine) -> str:
    return eng.orders.place(CUSTOMER, STORE, [ITEM], "1 Test Road").id


def ready(eng: Engine) -> str:
    order_id = paid(eng)
    eng.store.accept(order_id, STORE)
    eng.store.ready(order_id, STORE)
    return order_id


def delivered(eng: Engine) -> str:
    order_id = ready(eng)
    eng.deliveries.pick_up(order_id, RIDER)
    eng.deliveries.complete(order_id, RIDER)
    return order_id


def states(eng: Engine, order_id: str) -> dict[str, str]:
    return {t.kind: t.state for t in eng.timers.of_order(order_id)}


# -- each deadline fires once and does what it promises ------------------------------------------------


def test_acceptance_deadline_rejects_refunds_once_and_tells_everyone(eng: Engine, clock: ManualClock) -> None:
    order_id = paid(eng)
    [pending] = eng.orders.status(order_id).deadlines
    assert (pending.kind, pending.state) == ("acceptance", "pending")
    assert (pending.due_at - clock.now()).total_seconds() == eng.settings.accept_timeout_s == 600
    clock.advance(599)
    assert eng.catch_up().timers_fired == []  # not due yet
    clock.advance(1)
    [fired] = eng.catch_up().timers_fired
    assert (fired.order_id, fired.state) == (order_id, "fired")
    status = eng.orders.status(order_id)
    assert (status.status, status.reason) == ("CANCELLED", "rejected by the store: not accepted in time")
    assert status.deadlines == []
    rejected = [e for e in events_of(eng, order_id) if e.event_type == "StoreOrderRejected"]
    assert [(e.actor, e.payload["reason"]) for e in rejected] == [("system:deadlines", "not accepted in time")]
    assert eng.payments.get(order_id).status == "REFUNDED"
    assert [c.refund_id is not None for c in ledger(eng, order_id)] == [True]  # the provider refunded it, once
    told = {n.recipient_type for n in eng.notifications.list() if n.order_id == order_id and n.status == "CANCELLED"}
    assert told == {"customer", "store"}
    clock.advance(3600)
    assert eng.catch_up().timers_fired == []  # once
    assert event_types(eng, order_id).count("PaymentRefunded") == 1
    check_invariants(eng)


def test_moving_on_first_cancels_the_deadline(eng: Engine, clock: ManualClock) -> None:
    accepted, cancelled = paid(eng), paid(eng)
    eng.store.accept(accepted, STORE)
    eng.orders.cancel(cancelled, CUSTOMER)
    assert states(eng, accepted) == {"acceptance": "cancelled"}
    assert states(eng, cancelled) == {"acceptance": "cancelled"}
    assert [t.outcome for t in eng.timers.of_order(accepted)] == ["ended by CookingStarted"]
    clock.advance(86_400 * 2)
    assert eng.catch_up().timers_fired == []
    assert eng.orders.get(accepted).status == "COOKING"
    assert "StoreOrderRejected" not in event_types(eng, accepted)
    check_invariants(eng)


def test_pickup_alert_tells_the_store_and_operations_once_and_cancels_nothing(eng: Engine, clock: ManualClock) -> None:
    order_id = ready(eng)
    assert [t.kind for t in eng.orders.status(order_id).deadlines] == ["pickup"]
    clock.advance(eng.settings.pickup_alert_s)
    [fired] = eng.catch_up().timers_fired
    assert (fired.kind, fired.state) == ("pickup", "fired")
    assert eng.orders.get(order_id).status == "READY_FOR_PICKUP"
    [alert] = [e for e in events_of(eng, order_id) if e.event_type == "PickupOverdue"]
    assert (alert.payload["store_id"], alert.payload["waited_s"], alert.actor) == (STORE, 900, "system:deadlines")
    ops = eng.notifications.list("operations", "operations")
    store = [n for n in eng.notifications.list("store", STORE) if "waited" in n.message]
    assert [n.order_id for n in ops] == [order_id] and "15 min" in ops[0].message
    assert len(store) == 1
    clock.advance(3600)
    assert eng.catch_up().timers_fired == []  # once
    eng.deliveries.pick_up(order_id, RIDER)  # the alert cancelled nothing
    assert eng.orders.status(order_id).timeline[-1].event == "DeliveryPickedUp"
    check_invariants(eng)


def test_picking_up_first_means_no_alert(eng: Engine, clock: ManualClock) -> None:
    order_id = ready(eng)
    eng.deliveries.pick_up(order_id, RIDER)
    clock.advance(3600)
    assert eng.catch_up().timers_fired == []
    assert states(eng, order_id) == {"acceptance": "cancelled", "pickup": "cancelled"}
    assert "PickupOverdue" not in event_types(eng, order_id)
    check_invariants(eng)


def test_auto_confirm_confirms_a_delivered_order_once(eng: Engine, clock: ManualClock) -> None:
    auto, by_customer = delivered(eng), delivered(eng)
    eng.orders.confirm(by_customer, CUSTOMER)
    clock.advance(eng.settings.confirm_timeout_s - 1)
    assert eng.catch_up().timers_fired == []
    clock.advance(1)
    [fired] = eng.catch_up().timers_fired
    assert (fired.order_id, fired.kind, fired.state) == (auto, "confirm", "fired")
    assert eng.orders.get(auto).status == eng.orders.get(by_customer).status == "CONFIRMED"
    [confirmed] = [e for e in events_of(eng, auto) if e.event_type == "DeliveryConfirmed"]
    assert (confirmed.actor, confirmed.payload["customer_id"]) == ("system:deadlines", CUSTOMER)
    assert states(eng, by_customer)["confirm"] == "cancelled"
    clock.advance(86_400)
    assert eng.catch_up().timers_fired == []
    check_invariants(eng)


def test_a_timer_that_fires_before_its_order_caught_up_is_postponed_not_lost(eng: Engine, clock: ManualClock) -> None:
    order_id = ready(eng)
    eng.deliveries.pick_up(order_id, RIDER)
    commit_only(eng, CompleteDelivery(order_id, RIDER))  # DeliveryCompleted committed; the ordering saga not yet run
    clock.advance(eng.settings.confirm_timeout_s)
    [early] = eng.timers.fire_due(settle=False)
    assert (early.state, early.outcome.startswith("postponed")) == ("pending", True)
    assert early.due_at > clock.now()
    eng.bus.drain()
    clock.advance(60)
    [fired] = eng.catch_up().timers_fired
    assert (fired.id, fired.state) == (early.id, "fired")
    assert eng.orders.get(order_id).status == "CONFIRMED"
    check_invariants(eng)


def test_zero_disables_a_deadline(engine: Engine, clock: ManualClock) -> None:
    settings = engine.settings.model_copy(update={"accept_timeout_s": 0, "pickup_alert_s": 0})
    with Engine.open(settings, catch_up=False, clock=clock) as eng:
        order_id = delivered(eng)
        assert [t.kind for t in eng.timers.of_order(order_id)] == ["confirm"]
        other = paid(eng)
        clock.advance(86_400 * 30 - 1)
        eng.catch_up()
        assert eng.orders.get(other).status == "PAID"  # nobody rejects it
        assert eng.orders.get(order_id).status == "CONFIRMED"


def test_due_and_pending_through_the_api(eng: Engine, clock: ManualClock) -> None:
    first, second = paid(eng), paid(eng)
    assert [t.order_id for t in eng.timers.pending(first)] == [first]
    with pytest.raises(Exception, match="no-such-order"):
        eng.timers.pending("no-such-order")
    assert eng.timers.due() == []
    clock.advance(600)
    assert [t.order_id for t in eng.timers.due()] == [first, second]
    [one] = eng.timers.fire_due(limit=1)
    assert one.order_id == first
    assert [t.order_id for t in eng.timers.due()] == [second]
    assert eng.timers.counts()["acceptance"] == {"fired": 1, "pending": 1}


# -- races: exactly one outcome ---------------------------------------------------------------------------


def _outcomes(eng: Engine, order_ids: list[str]) -> Counter[str]:
    outcome: Counter[str] = Counter()
    for order_id in order_ids:
        types = event_types(eng, order_id)
        cooked, rejected = types.count("CookingStarted"), types.count("StoreOrderRejected")
        assert cooked + rejected == 1, (order_id, types)  # exactly one outcome, never both
        outcome["accepted" if cooked else "expired"] += 1
    return outcome


def test_the_store_accepting_while_the_deadline_fires_gives_one_outcome(eng: Engine, reopen: Any, clock: ManualClock) -> None:
    orders = [paid(eng) for _ in range(24)]
    clock.advance(600)  # every deadline is due: the store is late, and races the system
    store_side, timer_side = reopen(clock=clock), reopen(clock=clock)
    start = threading.Barrier(2)
    accepted: list[str] = []
    refused: list[str] = []
    fired: list[Any] = []

    def accept() -> None:
        start.wait()
        for order_id in orders:
            try:
                store_side.store.accept(order_id, STORE)
                accepted.append(order_id)
            except (Conflict, IllegalTransition):
                refused.append(order_id)

    def fire() -> None:
        start.wait()
        fired.extend(timer_side.timers.fire_due(limit=None))

    threads = [threading.Thread(target=accept), threading.Thread(target=fire)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    eng.catch_up()
    outcome = _outcomes(eng, orders)
    assert outcome["accepted"] == len(accepted) and outcome["expired"] == len(refused)
    assert [t.state for t in fired].count("fired") == len(refused)  # each expiry is the firing of its timer
    assert {t.state for t in fired} <= {"fired", "cancelled"}  # cancelled: claimed, but the store had accepted first
    for order_id in refused:
        assert eng.orders.get(order_id).status == "CANCELLED"
        assert [c.refund_id is not None for c in ledger(eng, order_id)] == [True]
    assert count(eng, timers, timers.c.state == "pending") == 0
    check_invariants(eng)


def test_two_engines_and_a_command_racing_for_due_timers_fire_each_once(eng: Engine, reopen: Any, clock: ManualClock) -> None:
    orders = [paid(eng) for _ in range(30)]
    clock.advance(601)
    engines = [reopen(clock=clock), reopen(clock=clock)]
    commander = reopen(clock=clock)
    start = threading.Barrier(3)
    fired: list[Any] = []
    lock = threading.Lock()

    def fire(engine: Engine) -> None:
        start.wait()
        got = engine.timers.fire_due(limit=None)
        with lock:
            fired.extend(got)

    def command() -> None:  # a command's process catching up first, as every CLI command does
        start.wait()
        got = commander.catch_up().timers_fired
        with lock:
            fired.extend(got)

    threads = [threading.Thread(target=fire, args=(e,)) for e in engines] + [threading.Thread(target=command)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    eng.catch_up()
    assert sorted(t.order_id for t in fired) == sorted(orders)  # each timer settled by exactly one of them
    assert {t.state for t in fired} == {"fired"}
    assert _outcomes(eng, orders) == Counter(expired=len(orders))
    check_invariants(eng)


def _spawn(db: str, clock: ManualClock, start_at: float, *action: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), db, clock.now().isoformat(), str(start_at), *action],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": os.getcwd()},
    )
    return child


def _result(child: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = child.communicate(timeout=180)
    assert child.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_processes_racing_the_store_against_two_firing_processes_give_one_outcome_each(eng: Engine, clock: ManualClock) -> None:
    orders = [paid(eng) for _ in range(30)]
    clock.advance(600)
    start_at = time.time() + 8  # every child is connected and waiting well before
    children = [_spawn(eng.settings.db, clock, start_at, "fire") for _ in range(2)]
    children.append(_spawn(eng.settings.db, clock, start_at, "accept", STORE, *orders))
    results = [_result(c) for c in children]
    eng.catch_up()
    accepted, refused = results[2]["accepted"], results[2]["refused"]
    settled = [(timer_id, state) for r in results[:2] for timer_id, state in r["fired"]]
    outcome = _outcomes(eng, orders)
    assert outcome["accepted"] == len(accepted) and outcome["expired"] == len(refused)
    assert all(code == 4 for _, code in refused)  # a clean refusal (SPEC §8: 4), never a bug
    assert [state for _, state in settled].count("fired") == len(refused)  # each expiry is one firing
    ids = [timer_id for timer_id, _ in settled]
    assert len(ids) == len(set(ids))  # no timer settled by both firing processes
    rows = {t.id: t for order_id in orders for t in eng.timers.of_order(order_id)}
    for timer_id, timer in rows.items():  # the rest were ended by the store's accept, in its own transaction
        assert timer_id in ids or (timer.state, timer.outcome) == ("cancelled", "ended by CookingStarted"), timer
    check_invariants(eng)


# -- a process killed while firing ------------------------------------------------------------------------


def test_a_process_killed_while_firing_leaves_the_rest_to_fire_once(eng: Engine, clock: ManualClock) -> None:
    orders = [paid(eng) for _ in range(150)]
    clock.advance(600)
    child = _spawn(eng.settings.db, clock, 0, "catch-up")
    assert json.loads(child.stdout.readline()) == {"ready": True}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it once it has fired some and not all: mid-way
        if count(eng, timers, timers.c.state == "fired") >= 3:
            break
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        time.sleep(0.005)  # a poll interval
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    fired_before = count(eng, timers, timers.c.state == "fired")
    assert 3 <= fired_before < len(orders), fired_before
    restarted = Engine.open(eng.settings, clock=clock)  # opening catches up: fires the rest, drains
    try:
        assert count(restarted, timers, timers.c.state == "pending") == 0
        assert _outcomes(restarted, orders) == Counter(expired=len(orders))
        for order_id in orders:
            assert restarted.orders.get(order_id).status == "CANCELLED"
            assert event_types(restarted, order_id).count("PaymentRefunded") == 1
            assert [c.refund_id is not None for c in ledger(restarted, order_id)] == [True]
        check_invariants(restarted)
    finally:
        restarted.close()


def _wait_for(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)  # a poll interval, not a wait for time to pass


def test_killed_inside_the_firing_transaction_the_timer_fires_once_on_restart_postgresql(eng: Engine, clock: ManualClock) -> None:
    """On PostgreSQL the kill lands inside the firing transaction for sure: the child has claimed the
    timer and waits for the ticket's row lock, which the test holds."""
    if eng.db.dialect.name != "postgresql":
        pytest.skip("SQLite cannot pause a writer inside its transaction from outside; the random-instant kill above covers it")
    from deliverycli.engine.store import store_orders

    order_id = paid(eng)
    clock.advance(600)
    claimable = sa.select(timers.c.id).where(timers.c.order_id == order_id).with_for_update(skip_locked=True)
    waiting_for_ticket = sa.text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = 'store_orders' AND l.locktype = 'tuple' AND l.pid <> pg_backend_pid()"
    )

    def probe(query: Any) -> Any:
        with eng.db.connect() as conn, conn.begin():
            return conn.execute(query).all()

    with eng.db.connect() as holder:
        tx = holder.begin()
        holder.execute(sa.select(store_orders).where(store_orders.c.order_id == order_id).with_for_update())
        child = _spawn(eng.settings.db, clock, 0, "fire")
        assert json.loads(child.stdout.readline()) == {"ready": True}
        _wait_for(lambda: probe(waiting_for_ticket)[0][0] > 0, "the child to claim the timer and wait for the ticket")
        assert probe(claimable) == []  # the child holds the timer
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        tx.rollback()
    _wait_for(lambda: probe(claimable) != [], "the server to roll back the killed process's transaction")
    assert states(eng, order_id) == {"acceptance": "pending"} and "StoreOrderRejected" not in event_types(eng, order_id)
    restarted = Engine.open(eng.settings, clock=clock)
    try:
        assert states(restarted, order_id) == {"acceptance": "fired"}
        assert event_types(restarted, order_id).count("StoreOrderRejected") == 1
        assert [c.refund_id is not None for c in ledger(restarted, order_id)] == [True]
        check_invariants(restarted)
    finally:
        restarted.close()
