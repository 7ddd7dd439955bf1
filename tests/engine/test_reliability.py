"""Reliability (SPEC §6) on real databases: the outbox, exactly-once after kill -9, catch-up,
dead letters, idempotent payments and refunds, and the circuit breaker."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from deliverycli.engine import counters, eventlog, notification, status, store
from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.clock import ManualClock
from deliverycli.engine.commands import AcceptOrder, CancelOrder, MarkReady, PlaceOrder
from deliverycli.engine.errors import Conflict, PaymentFailed
from deliverycli.engine.messagebus import Subscriber
from deliverycli.engine.ordering.repository import orders
from deliverycli.engine.payment import CardDeclined, GatewayUnavailable
from deliverycli.engine.payment.simulated import SimulatedGateway
from deliverycli.engine.storage import utcnow
from deliverycli.settings import load_settings

from .support import KILLED_CHILD, Delegating, Switch, check_invariants, commit_only, count, demo_engine, event_types, events_of, ledger, with_handler

ROOT = Path(__file__).resolve().parents[2]


def position(engine: Engine, subscriber: str) -> int:
    with engine.read() as conn:
        return eventlog.positions(conn).get(subscriber, 0)


def run_child(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a Python script using the library in a fresh process, which kill -9s itself."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stdout, proc.stderr)
    return proc


CHILD_PRELUDE = """
import os, signal, sys, threading
from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.commands import PlaceOrder
from deliverycli.settings import load_settings
def die():
    os.kill(os.getpid(), signal.SIGKILL)
engine = Engine.open(load_settings(db=sys.argv[1]), catch_up=False)
"""


def place_order_cmd(customer: str = "alice", store_id: str = "pizza-palace", item: str = "margherita", card: str | None = None) -> PlaceOrder:
    return PlaceOrder(customer, store_id, ((item, 1),), "1 Test St", card)


# -- a. the outbox: a failing handler rolls back its effects, its events and its position ------------


@pytest.mark.parametrize(
    ("subscriber", "event_type", "real"),
    [("status", "OrderPlaced", status.HANDLERS["OrderPlaced"]), ("store", "PaymentApproved", store.HANDLERS["PaymentApproved"])],
    ids=["status-row", "store-ticket-and-its-event"],
)
def test_failing_handler_rolls_back_effects_and_position_then_applies_once(engine: Engine, reopen: Any, subscriber: str, event_type: str, real: Any) -> None:
    calls: Counter[int] = Counter()
    seen_between: list[dict[str, Any]] = []

    def write_then_fail_once(event: Any, uow: Any) -> None:
        calls[event.id] += 1
        if calls[event.id] == 2:  # the retry: look from outside at what the failed attempt left behind
            with engine.read() as conn:
                seen_between.append(
                    {
                        "position": eventlog.positions(conn).get(subscriber, 0),
                        "status_rows": conn.execute(sa.select(sa.func.count()).select_from(status.order_status)).scalar_one(),
                        "timeline": conn.execute(sa.select(sa.func.count()).select_from(status.order_timeline).where(status.order_timeline.c.event_id == event.id)).scalar_one(),
                        "tickets": conn.execute(sa.select(sa.func.count()).select_from(store.store_orders)).scalar_one(),
                        "received": len(eventlog.read(conn, 0, types=["StoreOrderReceived"])),
                        "failures": conn.execute(sa.select(eventlog.subscriber_failures.c.attempts).where(eventlog.subscriber_failures.c.subscriber == subscriber)).scalars().all(),
                    }
                )
        real(event, uow)  # writes its rows (and may record events) ...
        if calls[event.id] == 1:
            raise RuntimeError("disk on fire")  # ... then fails: none of it may survive

    engine = reopen(subscribers=with_handler(subscriber, event_type, write_then_fail_once))
    oid = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St").id
    failing = events_of(engine, oid, [event_type])[0]

    assert calls[failing.id] == 2
    (between,) = seen_between
    assert between["position"] < failing.id
    assert between["failures"] == [1]
    if subscriber == "status":
        assert between["status_rows"] == 0 and between["timeline"] == 0
    else:
        assert between["tickets"] == 0 and between["received"] == 0
    # after the retry: applied exactly once, position past the event, the failure record cleared
    assert position(engine, subscriber) >= failing.id
    assert count(engine, status.order_status) == 1
    assert count(engine, store.store_orders) == 1
    assert event_types(engine, oid).count("StoreOrderReceived") == 1
    assert count(engine, eventlog.subscriber_failures) == 0
    assert engine.orders.status(oid).status == "PAID"
    check_invariants(engine)


# -- b. exactly once after kill -9 -----------------------------------------------------------------


def test_crash_between_commit_and_dispatch_is_caught_up_exactly_once(db_url: str) -> None:
    demo_engine(db_url).close()
    run_child(
        CHILD_PRELUDE
        + """
engine.handle(PlaceOrder("alice", "pizza-palace", (("margherita", 2),), "1 Test St"), settle=False)
die()  # committed (OrderPlaced, PaymentApproved) but no subscriber has seen it
""",
        db_url,
    )
    settings = load_settings(db=db_url, retry_backoff_s=0.001)
    with Engine.open(settings, catch_up=False) as before:
        assert [e.event_type for e in before.events.read()] == ["OrderPlaced", "PaymentApproved"]
        assert before.orders.get("ord-000001").status == "PAID"
        lag = before.ops.lag()
        assert (lag["status"], lag["notification"], lag["store"], lag["ordering"]) == (2, 2, 1, 0)
        assert count(before, store.store_orders) == 0 and count(before, status.order_status) == 0
    with Engine.open(settings) as engine:
        assert engine.store.queue("pizza-palace")[0].id == "ord-000001"
        assert engine.orders.status("ord-000001").status == "PAID"
        summary = check_invariants(engine)
        assert summary["by_type"]["StoreOrderReceived"] == 1
        assert [n.status for n in engine.notifications.list("customer", "alice")] == ["PENDING_PAYMENT", "PAID"]
        # opening again changes nothing: every event already took effect
        head = engine.events.head()
    with Engine.open(settings) as again:
        assert again.events.head() == head
        check_invariants(again)




def test_kill_9_in_the_middle_of_a_long_drain_keeps_every_invariant(db_url: str) -> None:
    engine = demo_engine(db_url, retry_backoff_s=0.001)
    try:
        # a backlog with every kind of saga step, none of it dispatched yet
        paid = [engine.orders.place(c, "pizza-palace", ["margherita"], "1 Test St").id for c in ("alice", "bob", "carol", "dave", "erin")]
        for oid in paid[:2]:
            commit_only(engine, AcceptOrder(oid, "pizza-palace"))
            commit_only(engine, MarkReady(oid, "pizza-palace"))
        commit_only(engine, CancelOrder(paid[2], "carol"))
        commit_only(engine, CancelOrder(paid[3], "dave"))
        fresh = [commit_only(engine, place_order_cmd(c, "seoul-bbq", "bibimbap")).id for c in ("alice", "bob", "carol", "dave", "erin") * 4]
        with pytest.raises(PaymentFailed):
            commit_only(engine, place_order_cmd("erin", card="4000000000000002"))
    finally:
        engine.close()
    with Engine.open(engine.settings, catch_up=False) as probe:
        lag = probe.ops.lag()
    assert lag["status"] > 40 and lag["store"] >= 20 and lag["payment"] == 0  # refunds not yet asked for

    # kill at several points of the drain, each time restarting where the last one died
    outcomes = []
    for kill_at in ("5", "60", "-150"):
        proc = subprocess.run([sys.executable, KILLED_CHILD, db_url, kill_at, "drain"], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert proc.returncode in (-signal.SIGKILL, 0), proc.stderr
        outcomes.append(proc.returncode)
    assert outcomes[:2] == [-signal.SIGKILL] * 2  # the counted kills happened mid-drain

    with Engine.open(engine.settings) as after:
        summary = check_invariants(after)
        view = summary["view"]
        assert [view[o] for o in paid] == ["READY_FOR_PICKUP", "READY_FOR_PICKUP", "CANCELLED", "CANCELLED", "PAID"]
        assert all(view[o] == "PAID" for o in fresh) and len(fresh) == 20
        assert summary["by_type"]["StoreOrderReceived"] == 25
        assert summary["by_type"]["DeliveryRequested"] == 2
        assert summary["by_type"]["PaymentRefunded"] == 2
        for oid in paid[2:4]:
            (entry,) = ledger(after, oid)
            assert entry.refund_id is not None
            assert after.payments.get(oid).status == "REFUNDED"
        assert sorted(d.id for d in after.deliveries.list(available=True)) == sorted(paid[:2])


# -- c. catch-up on start --------------------------------------------------------------------------


def test_events_committed_while_no_subscriber_ran_are_processed_on_open(engine: Engine) -> None:
    a = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St").id
    b = commit_only(engine, place_order_cmd("bob", "green-bowl", "poke")).id
    c = commit_only(engine, place_order_cmd("carol", "seoul-bbq", "japchae")).id
    commit_only(engine, AcceptOrder(a, "pizza-palace"))
    commit_only(engine, CancelOrder(c, "carol"))  # before the store has even seen the order
    engine.close()
    with Engine.open(engine.settings, catch_up=False) as stale:
        lag = stale.ops.lag()
        assert lag["status"] > 0 and lag["store"] > 0
        assert stale.orders.status(a).status == "PAID"  # the view has not seen CookingStarted
        assert stale.store.queue("green-bowl") == []
    with Engine.open(engine.settings) as fresh:
        assert set(fresh.ops.lag().values()) == {0}
        assert fresh.orders.status(a).status == "COOKING" and fresh.orders.get(a).status == "COOKING"
        assert [t.id for t in fresh.store.queue("green-bowl")] == [b]
        assert fresh.orders.status(b).status == "PAID"
        assert fresh.orders.get(c).status == fresh.orders.status(c).status == "CANCELLED"
        assert fresh.payments.get(c).status == "REFUNDED"
        check_invariants(fresh)


def test_catch_up_reports_what_it_did(engine: Engine) -> None:
    commit_only(engine, place_order_cmd())
    result = engine.catch_up()
    assert result.events_applied > 0 and result.payments_resolved == []
    assert engine.catch_up().events_applied == 0


# -- d. dead letters -------------------------------------------------------------------------------


def test_a_handler_that_keeps_failing_is_parked_and_the_rest_flows(engine: Engine, reopen: Any) -> None:
    attempts: list[int] = []

    def broken(event: Any, uow: Any) -> None:
        attempts.append(event.id)
        raise ValueError("template missing")

    handler = Switch(broken)
    engine = reopen(subscribers=with_handler("notification", "CookingStarted", handler))
    oid = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St").id
    engine.store.accept(oid, "pizza-palace")
    cooking = events_of(engine, oid, ["CookingStarted"])[0]

    assert attempts == [cooking.id] * engine.settings.retry_max_attempts
    (dead,) = engine.ops.dead_letters()
    assert (dead.subscriber, dead.event_id, dead.order_id, dead.event_type) == ("notification", cooking.id, oid, "CookingStarted")
    assert dead.attempts == engine.settings.retry_max_attempts and "template missing" in dead.error
    assert dead.resolved_at is None
    assert position(engine, "notification") >= cooking.id
    assert set(engine.ops.lag().values()) == {0}
    assert count(engine, eventlog.subscriber_failures) == 0
    # the others kept flowing: the order progresses in the status view and in ordering
    assert engine.orders.status(oid).status == engine.orders.get(oid).status == "COOKING"
    health = engine.ops.health()
    assert health.dead_letters == 1 and not health.healthy
    assert [n.status for n in engine.notifications.list("customer", "alice")] == ["PENDING_PAYMENT", "PAID"]

    # still broken: a retry fails again and says so, nothing changes
    with pytest.raises(Conflict, match="failed again"):
        engine.ops.retry_dead_letter(dead.id)
    assert engine.ops.dead_letters()[0].attempts == dead.attempts + 1

    # fixed: the retry applies it exactly once and resolves the dead letter
    handler.to = notification.HANDLERS["CookingStarted"]
    resolved = engine.ops.retry_dead_letter(dead.id)
    assert resolved.resolved_at is not None
    assert engine.ops.dead_letters() == [] and len(engine.ops.dead_letters(include_resolved=True)) == 1
    notes = engine.notifications.list("customer", "alice")
    assert [n.status for n in notes] == ["PENDING_PAYMENT", "PAID", "COOKING"]
    with pytest.raises(Conflict, match="already"):
        engine.ops.retry_dead_letter(dead.id)
    assert count(engine, notification.notifications, notification.notifications.c.event_id == cooking.id) == 2  # the customer and the store, once each

    engine.store.ready(oid, "pizza-palace")
    engine.deliveries.pick_up(oid, "rider-lee")
    engine.deliveries.complete(oid, "rider-lee")
    engine.orders.confirm(oid, "alice")
    assert engine.ops.health().healthy
    check_invariants(engine)


# -- e. idempotent payments and refunds ------------------------------------------------------------


def test_gateway_charge_and_refund_are_idempotent_on_the_key(engine: Engine) -> None:
    gateway = engine.gateway
    assert isinstance(gateway, SimulatedGateway)
    first = gateway.charge("ord-test-1", 18000, "4242424242424242", 1.0)
    second = gateway.charge("ord-test-1", 18000, "4242424242424242", 1.0)
    assert first == second and first.charge_id and first.card_suffix == "4242"
    assert len(ledger(engine)) == 1 and ledger(engine)[0].amount == 18000
    refund = gateway.refund("ord-test-1", 18000, 1.0)
    assert gateway.refund("ord-test-1", 18000, 1.0) == refund
    (entry,) = ledger(engine)
    assert entry.refund_id == refund and entry.refunded_at is not None
    # declines and outages leave no trace at the provider
    with pytest.raises(CardDeclined):
        gateway.charge("ord-test-2", 100, "4000000000000002", 1.0)
    with pytest.raises(CardDeclined, match="insufficient"):
        gateway.charge("ord-test-3", 100, "4000000000009995", 1.0)
    with pytest.raises(GatewayUnavailable):
        gateway.charge("ord-test-4", 100, "4000000000000119", 1.0)
    assert gateway.lookup("ord-test-2") is None and len(ledger(engine)) == 1


def test_payment_service_retry_never_charges_twice(engine: Engine) -> None:
    oid = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St").id
    again = engine.payment_service.charge(oid, 18000, "4242424242424242")  # a client retrying the same order
    assert again.approved and again.charge_id == engine.payments.get(oid).charge_id
    assert len(ledger(engine, oid)) == 1


class CrashAfterRefund(Delegating):
    """A payment gateway port double: the real gateway, but the first refund "crashes" after the
    provider has refunded and before our transaction commits."""

    def __init__(self, inner: SimulatedGateway) -> None:
        super().__init__(inner)
        self.refunds = 0

    def refund(self, key: str, amount: int, timeout: float) -> str:
        self.refunds += 1
        refund_id = self.inner.refund(key, amount, timeout)
        if self.refunds == 1:
            raise ConnectionResetError("connection lost after the provider refunded")
        return refund_id


def test_refund_retried_after_a_cut_off_call_refunds_once(engine: Engine, reopen: Any) -> None:
    oid = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St").id
    port = CrashAfterRefund(engine.gateway)
    engine = reopen(gateway=port)
    assert engine.orders.cancel(oid, "alice").status == "CANCELLED"
    assert port.refunds == 2
    assert len(events_of(engine, oid, ["PaymentRefunded"])) == 1
    pay = engine.payments.get(oid)
    (entry,) = ledger(engine, oid)
    assert pay.status == "REFUNDED" and pay.refund_id == entry.refund_id
    check_invariants(engine)


INTERRUPTED_CHARGE = CHILD_PRELUDE + """
real = engine.gateway
class CutOff:
    def charge(self, key, amount, card, timeout):
        if sys.argv[2] == "before":
            die()  # the request never reached the provider
        result = real.charge(key, amount, card, timeout)
        die()  # the provider charged; we died before recording it
    def lookup(self, key):
        return real.lookup(key)
    def refund(self, *a):
        return real.refund(*a)
engine = Engine.open(load_settings(db=sys.argv[1]), catch_up=False, gateway=CutOff())
engine.orders.place("alice", "pizza-palace", ["margherita:2"], "1 Test St")
"""


def _backdate(engine: Engine, order_id: str, seconds: float) -> None:
    with engine.db.begin() as conn:
        placed = conn.execute(sa.select(orders.c.placed_at).where(orders.c.id == order_id)).scalar_one()
        conn.execute(orders.update().where(orders.c.id == order_id).values(placed_at=placed - timedelta(seconds=seconds)))


@pytest.mark.parametrize("cut", ["after", "before"])
def test_payment_cut_off_by_a_crash_is_resolved_on_restart(db_url: str, cut: str) -> None:
    demo_engine(db_url).close()
    run_child(INTERRUPTED_CHARGE, db_url, cut)
    settings = load_settings(db=db_url, payment_timeout_s=0.5, retry_backoff_s=0.001)
    oid = "ord-000001"
    with Engine.open(settings) as young:  # too recent: the call might still be in flight elsewhere
        assert young.orders.get(oid).status == "PENDING_PAYMENT"
        assert len(ledger(young, oid)) == (1 if cut == "after" else 0)
        assert young.ops.health().pending_payments == 1
        _backdate(young, oid, 60)
    with Engine.open(settings) as engine:  # catch-up asks the provider by the order id
        order = engine.orders.get(oid)
        types = event_types(engine, oid)
        if cut == "after":
            assert order.status == engine.orders.status(oid).status == "PAID"
            assert engine.payments.get(oid).status == "APPROVED"
            assert types.count("PaymentApproved") == 1 and types.count("StoreOrderReceived") == 1
            assert [t.id for t in engine.store.queue("pizza-palace")] == [oid]
        else:
            assert order.status == engine.orders.status(oid).status == "REJECTED"
            assert "interrupted" in order.reason
            assert engine.payments.get(oid).status == "DECLINED"
            assert "StoreOrderReceived" not in types and engine.store.queue("pizza-palace") == []
        assert len(ledger(engine, oid)) == (1 if cut == "after" else 0)  # never charged twice
        assert engine.ops.health().pending_payments == 0
        check_invariants(engine)
    with Engine.open(settings) as again:
        assert again.orders.get(oid).status == order.status
        assert len(events_of(again, oid, ["PaymentApproved", "PaymentDeclined"])) == 1


class Crash(BaseException):
    """Stands for the process dying inside the payment call (not an Exception: nothing handles it)."""


class DiesBeforeCharging(Delegating):
    def charge(self, *args: Any) -> Any:
        raise Crash()


def test_recovery_voids_the_key_so_a_late_charge_is_refused(engine: Engine, reopen: Any) -> None:
    """A payment call cut off by a crash: recovery makes the provider refuse the key from then on
    before it says "you were not charged", so a request that reaches the provider late cannot charge
    (issue 9 §1)."""
    real = engine.gateway
    with pytest.raises(Crash):
        reopen(gateway=DiesBeforeCharging(real)).orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
    oid = "ord-000001"
    assert engine.orders.get(oid).status == "PENDING_PAYMENT"
    # a minute later (on this engine's clock) the call is surely over: catch-up asks the provider
    later = reopen(gateway=real, clock=ManualClock(datetime.now(UTC) + timedelta(minutes=1)))
    assert later.catch_up().payments_resolved == [oid]
    order = engine.orders.get(oid)
    assert order.status == "REJECTED" and "you were not charged" in order.reason
    # the cut-off request reaches the provider late: refused, so "not charged" stays true
    with pytest.raises(CardDeclined, match="cancelled"):
        real.charge(oid, 18000, "4242424242424242", 1.0)
    assert ledger(engine, oid) == []
    check_invariants(engine)


class Hangs(Delegating):
    """A provider whose charges hang until released, and whose void is down while they hang."""

    def __init__(self, inner: SimulatedGateway) -> None:
        super().__init__(inner)
        self.release = threading.Event()
        self.charged = threading.Event()

    def charge(self, *args: Any) -> Any:
        self.release.wait(60)
        charged = self.inner.charge(*args)
        self.charged.set()
        return charged

    def void(self, key: str, timeout: float) -> Any:
        if not self.release.is_set():
            raise GatewayUnavailable("the provider is not answering")
        return self.inner.void(key, timeout)


def test_a_call_past_its_deadline_is_given_up_and_a_late_charge_is_reconciled_once(db_url: str) -> None:
    """The payment service enforces the deadline itself (the provider hangs); the key cannot be
    voided then, so the payment is checked with the provider later: the late charge is refunded,
    exactly once, and the order stays REJECTED (issue 9 §1)."""
    demo_engine(db_url).close()
    clock = ManualClock(datetime.now(UTC))
    settings = load_settings(db=db_url, payment_timeout_s=0.2, retry_backoff_s=0.001)
    with Engine.open(settings, clock=clock) as engine:
        port = Hangs(engine.gateway)
        hung = Engine.open(settings, clock=clock, gateway=port)
        try:
            with pytest.raises(PaymentFailed, match="will be checked with the provider") as info:
                hung.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
            oid = info.value.order_id
            assert not port.charged.is_set()  # given up while the provider still holds the call
            assert engine.orders.get(oid).status == "REJECTED" and engine.ops.health().payments_to_reconcile == 1
            port.release.set()
            port.charged.wait(30)  # the late charge lands
            assert ledger(engine, oid)[0].refund_id is None
            assert hung.catch_up().payments_reconciled == []  # not due yet: a call might still be in flight
            clock.advance(settings.payment_timeout_s + 6)
            assert hung.catch_up().payments_reconciled == [oid]
            assert hung.catch_up().payments_reconciled == []  # once
        finally:
            hung.close()
        (entry,) = ledger(engine, oid)
        assert entry.refund_id is not None and engine.payments.get(oid).refund_id == entry.refund_id
        assert engine.orders.status(oid).status == "REJECTED" and engine.ops.health().payments_to_reconcile == 0
        check_invariants(engine)


class RecordsSleeps(ManualClock):
    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        super().sleep(seconds)


def test_retries_back_off_on_the_engine_clock(engine: Engine, reopen: Any) -> None:
    """A failing handler is retried after 0.25 s, then 0.5 s (doubling), on the injected clock."""
    clock = RecordsSleeps()

    def broken(event: Any, uow: Any) -> None:
        raise ValueError("template missing")

    settings = engine.settings.model_copy(update={"retry_backoff_s": 0.25, "retry_max_attempts": 3})
    with Engine.open(settings, clock=clock, subscribers=with_handler("notification", "OrderPlaced", broken)) as failing:
        failing.orders.place("alice", "pizza-palace", ["cola"], "1 Test St")
    assert clock.slept == [0.25, 0.5]
    assert [d.attempts for d in engine.ops.dead_letters()] == [3]


# -- f. the circuit breaker ------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def flaky_engine(db_url: str, clock: ManualClock) -> Any:
    demo_engine(db_url).close()
    settings = load_settings(db=db_url, payment_failure_rate=1.0, breaker_fail_max=3, breaker_reset_timeout_s=30, retry_backoff_s=0.001)
    eng = Engine.open(settings, clock=clock)
    yield eng
    eng.close()


def test_circuit_breaker_opens_fails_fast_half_opens_and_closes(flaky_engine: Engine, clock: ManualClock) -> None:
    engine = flaky_engine
    assert engine.payments.breaker().state == "closed"
    for n in range(3):
        with pytest.raises(PaymentFailed) as info:
            engine.orders.place("alice", "pizza-palace", ["cola"], "1 Test St")
        assert info.value.unavailable and info.value.exit_code == 6
        assert engine.orders.get(info.value.order_id).status == "REJECTED"
    breaker = engine.payments.breaker()
    assert breaker.state == "open" and breaker.half_open_at
    assert count(engine, orders) == 3
    declined = events_of(engine, types=["PaymentDeclined"])
    assert len(declined) == 3 and all(e.payload["unavailable"] for e in declined)

    # open: fail fast, before any order is written; another process sees the same breaker
    head = engine.events.head()
    with Engine.open(engine.settings, clock=clock) as other:
        assert other.payments.breaker().state == "open"
        for eng in (engine, other):
            with pytest.raises(PaymentFailed, match="No order was placed") as info:
                eng.orders.place("bob", "pizza-palace", ["cola"], "1 Test St")
            assert info.value.unavailable and info.value.order_id is None
    assert count(engine, orders) == 3 and engine.events.head() == head
    assert "payment circuit breaker is open" in engine.ops.health().problems

    # after the cool-down it half-opens: a failed trial opens it again ...
    clock.advance(31)
    with pytest.raises(PaymentFailed):
        engine.orders.place("carol", "pizza-palace", ["cola"], "1 Test St")
    assert engine.payments.breaker().state == "open"
    assert count(engine, orders) == 4
    with pytest.raises(PaymentFailed, match="No order was placed"):
        engine.orders.place("carol", "pizza-palace", ["cola"], "1 Test St")

    # ... and a successful one closes it
    engine.gateway.failure_rate = 0.0
    clock.advance(31)
    order = engine.orders.place("dave", "pizza-palace", ["cola"], "1 Test St")
    assert order.status == "PAID"
    breaker = engine.payments.breaker()
    assert breaker.state == "closed" and breaker.fail_counter == 0
    assert engine.orders.place("erin", "pizza-palace", ["cola"], "1 Test St").status == "PAID"
    check_invariants(engine)


def test_declined_cards_do_not_trip_the_breaker(flaky_engine: Engine) -> None:
    engine = flaky_engine
    engine.gateway.failure_rate = 0.0
    for _ in range(4):
        with pytest.raises(PaymentFailed) as info:
            engine.orders.place("alice", "pizza-palace", ["cola"], "1 Test St", card="4000000000000002")
        assert not info.value.unavailable
    assert engine.payments.breaker().state == "closed"
    assert engine.orders.place("alice", "pizza-palace", ["cola"], "1 Test St").status == "PAID"


# -- several processes on one database (SPEC §1, §7 autoscale) ----------------------------------------


def test_two_transactions_creating_the_same_tracking_row_do_not_collide(engine: Engine) -> None:
    """The first drain of two processes on a fresh database: both find no tracking row for a
    subscriber and create it. The second must wait and then see the first one's position."""
    assert position(engine, "probe") == 0
    outcome: dict[str, Any] = {}
    with engine.db.connect() as first:
        tx = first.begin()
        assert eventlog.lock_position(first, "probe", utcnow()) == 0
        eventlog.advance(first, "probe", 0, 7, utcnow())

        def second() -> None:
            try:
                with engine.db.connect() as conn, conn.begin():
                    outcome["position"] = eventlog.lock_position(conn, "probe", utcnow())
            except Exception as exc:  # noqa: BLE001
                outcome["error"] = exc

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)  # the second transaction is now waiting on the first
        tx.commit()
        thread.join(10)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["position"] == 7


def test_concurrent_first_orders_from_several_processes_on_a_fresh_database(engine: Engine) -> None:
    """Three engines (as three terminals) place the very first orders at the same instant: no
    subscriber's tracking row and no gateway ledger exist yet. Every order must go through."""
    engines = [Engine.open(engine.settings) for _ in range(3)]
    customers = ["alice", "bob", "carol"]
    barrier = threading.Barrier(len(engines))
    results: dict[str, Any] = {}

    def order(eng: Engine, customer: str) -> None:
        barrier.wait()
        try:
            results[customer] = eng.orders.place(customer, "pizza-palace", ["cola"], "1 Test St")
        except Exception as exc:  # noqa: BLE001
            results[customer] = exc

    try:
        threads = [threading.Thread(target=order, args=(e, c)) for e, c in zip(engines, customers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for e in engines:
            e.close()
    errors = {c: r for c, r in results.items() if isinstance(r, BaseException)}
    assert errors == {}
    assert sorted(r.status for r in results.values()) == ["PAID"] * 3
    engine.bus.drain()
    summary = check_invariants(engine)
    assert summary["by_type"]["StoreOrderReceived"] == 3


def test_simulated_gateway_ledger_is_created_safely_by_concurrent_first_charges(engine: Engine) -> None:
    """The provider's ledger is created on first use; several processes' first charges race."""
    gateways = [SimulatedGateway(engine.gateway.db) for _ in range(4)]
    barrier = threading.Barrier(len(gateways))
    results: dict[int, Any] = {}

    def charge(n: int, gateway: SimulatedGateway) -> None:
        barrier.wait()
        try:
            results[n] = gateway.charge(f"ord-race-{n}", 1000 + n, "4242424242424242", 5.0)
        except Exception as exc:  # noqa: BLE001
            results[n] = exc

    threads = [threading.Thread(target=charge, args=(n, g)) for n, g in enumerate(gateways)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert {n: r for n, r in results.items() if isinstance(r, BaseException)} == {}
    assert sorted(r.amount for r in results.values()) == [1000, 1001, 1002, 1003]
    assert len(ledger(engine)) == 4


class RefundsDown(Delegating):
    """The provider answers charges but its refund endpoint is down (until ``up`` is set)."""

    def __init__(self, inner: SimulatedGateway) -> None:
        super().__init__(inner)
        self.up = False
        self.calls = 0

    def refund(self, *args: Any) -> str:
        self.calls += 1
        if not self.up:
            raise GatewayUnavailable("refunds are down")
        return self.inner.refund(*args)


def test_a_refund_parked_while_the_provider_is_down_is_refunded_once_on_operator_retry(engine: Engine, reopen: Any) -> None:
    oid = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St").id
    port = RefundsDown(engine.gateway)
    engine = reopen(gateway=port)
    # the store agreed to cancel, but the refund cannot be made: the order waits, visibly
    assert engine.orders.cancel(oid, "alice").status == "CANCEL_PENDING"
    assert port.calls == engine.settings.retry_max_attempts
    (dead,) = engine.ops.dead_letters()
    assert (dead.subscriber, dead.event_type, dead.order_id) == ("payment", "StoreOrderCancelled", oid)
    assert engine.payments.get(oid).status == "APPROVED" and ledger(engine, oid)[0].refund_id is None
    assert engine.orders.status(oid).status == "CANCEL_PENDING"

    port.up = True
    engine.ops.retry_dead_letter(dead.id)
    assert engine.orders.get(oid).status == engine.orders.status(oid).status == "CANCELLED"
    assert engine.payments.get(oid).status == "REFUNDED"
    assert len(events_of(engine, oid, ["PaymentRefunded"])) == 1
    assert ledger(engine, oid)[0].refund_id is not None
    with pytest.raises(Conflict):
        engine.ops.retry_dead_letter(dead.id)
    assert len(events_of(engine, oid, ["PaymentRefunded"])) == 1
    check_invariants(engine)


def test_a_drain_returns_only_when_no_subscriber_has_work_left(engine: Engine, reopen: Any) -> None:
    """A subscriber far behind (the status view, its position just reset by a rebuild in another
    process) that cannot progress (its batches keep losing races) must not hide the work of a
    subscriber far ahead, beyond the window of events the drain looks at first (issue 9 §4)."""
    from deliverycli.engine.errors import ConcurrencyConflict
    from deliverycli.engine.messagebus import WORK_WINDOW
    from deliverycli.engine.simulation import Simulation, SimulationOptions, start_run

    options = SimulationOptions(orders=160, cancel_rate=0.0, reject_rate=0.0, seed=9)
    Simulation(engine, start_run(engine, options), options).run()
    assert engine.events.head() > WORK_WINDOW + 100
    oid = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St").id
    commit_only(engine, AcceptOrder(oid, "pizza-palace"))  # CookingStarted: work for the ordering subscriber, at the head
    with engine.write() as conn:  # what a batched rebuild's first transaction leaves
        conn.execute(status.order_timeline.delete())
        conn.execute(status.order_status.delete())
        counters.clear(conn, counters.STATUS_VIEW_SCOPES)
        conn.execute(eventlog.tracking.update().where(eventlog.tracking.c.subscriber == "status").values(position=0))

    def always_raced(*args: Any) -> None:
        raise ConcurrencyConflict("another process moved the status subscriber meanwhile")

    raced = reopen(subscribers=lambda subs: [Subscriber("status", dict.fromkeys(s.handlers, always_raced), always_raced) if s.name == "status" else s for s in subs])
    raced.bus.drain()
    lag = raced.ops.lag()
    assert lag["ordering"] == 0 and raced.orders.get(oid).status == "COOKING"
    assert lag["status"] > 0  # the raced subscriber is honestly still behind
    engine.bus.drain()
    check_invariants(engine)
