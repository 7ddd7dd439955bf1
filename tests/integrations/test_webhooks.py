"""Webhooks against a real HTTP receiver on a loopback port that checks every signature, on SQLite
and PostgreSQL: every event of an order arrives in order, signed; a receiver that fails three
times per event still gets each one; a receiver that never answers is parked without delaying a
healthy one, shows in `deadletters`, `doctor` and the operations view, and a retry re-sends it; an
endpoint is worked by one sender at a time; every attempt is recorded.

Time is injected: the engine's clock is a ManualClock, and the retry waits are settings set near
zero (stamina waits what it is told). Only the HTTP timeout of the silent receiver is real time."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.clock import ManualClock
from deliverycli.engine.errors import Conflict
from deliverycli.engine.webhooks import secret_key
from deliverycli.integrations.webhooks import WebhookDispatcher, sign
from deliverycli.output import jsonable
from deliverycli.settings import load_settings

from .webhook_receiver import HANG, Receiver

FAST = {
    "webhook_retry_wait_initial_s": 0.001, "webhook_retry_wait_max_s": 0.005, "webhook_retry_wait_jitter_s": 0.0, "webhook_timeout_s": 10.0,
    "webhook_lease_s": 60.0, "webhook_poll_s": 0.02, "retry_backoff_s": 0.001,
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def open_engine(db_url: str, clock: ManualClock, **overrides: Any) -> Engine:
    engine, _ = Engine.initialise(load_settings(db=db_url, **(FAST | overrides)), demo=True, clock=clock)
    return engine


@pytest.fixture
def engine(db_url: str, clock: ManualClock) -> Iterator[Engine]:
    eng = open_engine(db_url, clock)
    yield eng
    eng.close()


def deliver_all(dispatcher: WebhookDispatcher) -> int:
    total = 0
    while sent := dispatcher.run_once():
        total += sent
    return total


def full_order(engine: Engine, address: str = "1 Hook St") -> str:
    """An order from placing to the customer's confirmation."""
    order = engine.orders.place("alice", "pizza-palace", ["margherita:2", "cola"], address).id
    engine.store.accept(order, "pizza-palace")
    engine.store.ready(order, "pizza-palace")
    engine.deliveries.pick_up(order, "rider-kim")
    engine.deliveries.complete(order, "rider-kim")
    engine.orders.confirm(order, "alice")
    return order


def log_lines(engine: Engine, after: int = 0) -> list[bytes]:
    """The events after ``after`` as `events tail --json` prints them (the same serialiser: jsonable + json.dumps)."""
    return [json.dumps(jsonable(e), ensure_ascii=False).encode() for e in engine.events.read(after=after, limit=100_000)]


def test_the_signature_is_the_standard_webhooks_one() -> None:
    """The test vector of the Standard Webhooks specification."""
    key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}') == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_every_event_of_an_order_arrives_in_order_and_signed(engine: Engine) -> None:
    earlier = engine.orders.place("bob", "pizza-palace", ["cola"], "before the webhook").id
    start = engine.events.head()
    with Receiver() as receiver:
        added = engine.webhooks.add(receiver.url)
        receiver.secret = added.secret
        assert added.secret.startswith("whsec_") and added.position == start  # from now on: nothing from before
        order = full_order(engine)
        with WebhookDispatcher(engine) as dispatcher:
            sent = deliver_all(dispatcher)
        expected = log_lines(engine, after=start)
        assert sent == len(expected) > 8
        got = receiver.accepted()
        assert all(r.valid for r in got), "every signature checks out"
        assert [r.body for r in got] == expected, "every event once, in log order, as `events tail --json` prints it"
        assert [int(r.msg_id) for r in got] == [json.loads(line)["id"] for line in expected]
        assert [r.event["event_type"] for r in got if r.event["order_id"] == order][:2] == ["OrderPlaced", "PaymentApproved"]
        assert earlier not in {r.event["order_id"] for r in got}
        assert all(int(r.timestamp) == int(engine.clock.now().timestamp()) for r in got)  # the injected clock's time
    [listed] = engine.webhooks.list()
    assert (listed.position, listed.lag) == (engine.events.head(), 0)
    assert "secret" not in listed.model_dump()
    attempts = engine.webhooks.deliveries(added.id)
    assert [(a.event_id, a.attempt, a.ok, a.status_code, a.error) for a in attempts] == [(int(r.msg_id), 1, True, 200, None) for r in got]


def test_an_event_type_filter_sends_only_those_and_moves_past_the_rest(engine: Engine) -> None:
    with Receiver() as receiver:
        added = engine.webhooks.add(receiver.url, ["OrderPlaced", "DeliveryConfirmed"])
        receiver.secret = added.secret
        orders = [full_order(engine, f"{i} Filter St") for i in range(2)]
        with WebhookDispatcher(engine) as dispatcher:
            assert deliver_all(dispatcher) == 4
        assert [(r.event["event_type"], r.event["order_id"]) for r in receiver.accepted()] == [
            ("OrderPlaced", orders[0]), ("DeliveryConfirmed", orders[0]), ("OrderPlaced", orders[1]), ("DeliveryConfirmed", orders[1])]
    assert engine.webhooks.get(added.id).position == engine.events.head()


def test_a_receiver_that_fails_three_times_per_event_still_gets_each_one_in_order(db_url: str, clock: ManualClock) -> None:
    engine = open_engine(db_url, clock, webhook_retry_attempts=5)
    try:
        with Receiver(lambda msg_id, seen: 500 if seen <= 3 else 204) as receiver:
            added = engine.webhooks.add(receiver.url)
            receiver.secret = added.secret
            start = engine.events.head()
            full_order(engine)
            with WebhookDispatcher(engine) as dispatcher:
                deliver_all(dispatcher)
                stats = dispatcher.stats.as_dict()
            ids = [json.loads(line)["id"] for line in log_lines(engine, after=start)]
            assert receiver.accepted_ids() == ids and len(receiver.accepted()) == len(ids)
            assert all(r.valid for r in receiver.requests)
        assert stats == {"delivered": len(ids), "parked": 0, "attempts": 4 * len(ids), "failed_attempts": 3 * len(ids)}
        attempts = engine.webhooks.deliveries(added.id, limit=1000)
        assert [(a.event_id, a.attempt, a.status_code, a.ok) for a in attempts] == [
            (i, n, 500 if n <= 3 else 204, n == 4) for i in ids for n in (1, 2, 3, 4)]
        failed = engine.webhooks.deliveries(added.id, failed=True, limit=1000)
        assert len(failed) == 3 * len(ids) and all(a.error and a.error.startswith("HTTP 500") for a in failed)
        assert engine.ops.dead_letters() == []
    finally:
        engine.close()


def test_a_silent_receiver_is_parked_without_delaying_a_healthy_one_and_a_retry_resends(db_url: str, clock: ManualClock) -> None:
    # 2 attempts of a 3 s timeout each: the silent endpoint's first event is parked after 6 s at the earliest.
    engine = open_engine(db_url, clock, webhook_timeout_s=3.0, webhook_retry_attempts=2, webhook_lease_s=60.0)
    silent_mode = {"on": True}
    stop = threading.Event()
    try:
        with Receiver(lambda msg_id, seen: HANG if silent_mode["on"] else 200) as silent, Receiver() as healthy:
            slow = engine.webhooks.add(silent.url, ["OrderPlaced"])
            good = engine.webhooks.add(healthy.url)
            silent.secret, healthy.secret = slow.secret, good.secret
            start = engine.events.head()
            order = full_order(engine)
            ids = [json.loads(line)["id"] for line in log_lines(engine, after=start)]
            dispatcher = WebhookDispatcher(engine)
            runner = threading.Thread(target=dispatcher.run, args=(stop,))
            runner.start()
            healthy.wait_for(lambda r: r.accepted_ids() == ids)
            assert engine.ops.dead_letters() == [], "the healthy endpoint got everything while the silent one was still being tried"
            assert all(r.valid for r in healthy.accepted())

            def parked() -> list[Any]:
                return [d for d in engine.ops.dead_letters() if d.subscriber == f"webhook:{slow.id}"]

            silent.wait_for(lambda r: bool(parked()), timeout=120)
            [letter] = parked()
            assert (letter.event_type, letter.order_id, letter.attempts) == ("OrderPlaced", order, 2)
            assert "Timeout" in letter.error
            tries = engine.webhooks.deliveries(slow.id)
            assert [(t.attempt, t.ok, t.status_code) for t in tries] == [(1, False, None), (2, False, None)]
            assert all(t.duration_ms >= 2900 for t in tries)  # the HTTP timeout, not a shortcut
            # visible where an operator looks
            health = engine.ops.health()
            assert health.dead_letters == 1 and any("dead letter" in p for p in health.problems)
            overview = engine.ops.overview()
            assert letter.id in [d.id for d in overview.dead_letters]
            assert {f"webhook:{slow.id}", f"webhook:{good.id}"} <= {s.id for s in overview.subscribers}

            stop.set()
            runner.join(timeout=60)
            assert not runner.is_alive()
            dispatcher.close()
            # the receiver is fixed: an operator retries the dead letter, which sends that event again
            silent_mode["on"] = False
            retried = engine.ops.retry_dead_letter(letter.id)
            assert retried.resolved_at is not None
            assert [int(r.msg_id) for r in silent.accepted()] == [letter.event_id] and silent.accepted()[0].valid
            assert engine.ops.dead_letters() == []
            with pytest.raises(Conflict, match="already retried"):
                engine.ops.retry_dead_letter(letter.id)
    finally:
        stop.set()
        engine.close()


def test_a_failed_retry_of_a_webhook_dead_letter_counts_and_keeps_it(db_url: str, clock: ManualClock) -> None:
    engine = open_engine(db_url, clock, webhook_retry_attempts=1)
    try:
        with Receiver(lambda msg_id, seen: 503) as receiver:
            added = engine.webhooks.add(receiver.url, ["OrderPlaced"])
            receiver.secret = added.secret
            engine.orders.place("alice", "pizza-palace", ["cola"], "A")
            with WebhookDispatcher(engine) as dispatcher:
                assert deliver_all(dispatcher) == 1
            [letter] = engine.ops.dead_letters()
            assert (letter.subscriber, letter.attempts, letter.error) == (f"webhook:{added.id}", 1, "HTTP 503: ok")
            with pytest.raises(Conflict, match="failed again: HTTP 503"):
                engine.ops.retry_dead_letter(letter.id)
            [again] = engine.ops.dead_letters()
            assert (again.attempts, again.resolved_at) == (2, None)
            assert [t.attempt for t in engine.webhooks.deliveries(added.id)] == [1, 2]
            removed, dropped = engine.webhooks.remove(added.id)
            assert (removed.id, dropped) == (added.id, 1)
            assert engine.ops.dead_letters() == [] and engine.webhooks.list() == []
    finally:
        engine.close()


def test_one_sender_at_a_time_per_endpoint_until_its_lease_runs_out(engine: Engine, clock: ManualClock) -> None:
    with Receiver() as receiver:
        added = engine.webhooks.add(receiver.url)
        receiver.secret = added.secret
        engine.orders.place("alice", "pizza-palace", ["cola"], "A")
        first, second = WebhookDispatcher(engine), WebhookDispatcher(engine)
        try:
            assert deliver_all(first) > 0  # holds the lease now (it was not closed: as if killed)
            engine.orders.place("alice", "pizza-palace", ["cola"], "B")
            assert second.run_once() == 0, "the endpoint is the first sender's"
            clock.advance(engine.settings.webhook_lease_s + 1)
            assert deliver_all(second) > 0, "its lease ran out: the second sender takes over"
            assert first.run_once() == 0
        finally:
            first.close()
            second.close()
        ids = receiver.accepted_ids()
        assert ids == list(range(ids[0], engine.events.head() + 1)) and len(receiver.accepted()) == len(ids)


def test_the_readme_receiver_verifies_what_the_sender_signs(engine: Engine) -> None:
    """The README's `verify` accepts a request the sender signed and refuses a changed body, another
    secret or an old timestamp."""
    import re
    import time
    from pathlib import Path

    from deliverycli.engine.webhooks import Endpoint, new_secret
    from deliverycli.integrations.webhooks import signed_headers
    from deliverycli.engine.views import EventView

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Webhooks") : readme.index("## Settings")]
    (snippet,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - the README's own code
    verify = namespace["verify"]

    engine.orders.place("alice", "pizza-palace", ["cola"], "A")
    [event] = [e for e in _stored(engine) if e.event_type == "OrderPlaced"]
    secret = new_secret()
    body = EventView.json_bytes(event)
    headers = signed_headers(Endpoint("wh_x", "http://127.0.0.1/", None, secret), event, body, int(time.time()))
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body.replace(b"alice", b"mallory"))
    assert not verify(new_secret(), headers, body)
    old = signed_headers(Endpoint("wh_x", "http://127.0.0.1/", None, secret), event, body, int(time.time()) - 3600)
    assert not verify(secret, old, body)


def _stored(engine: Engine) -> list[Any]:
    from deliverycli.engine import eventlog

    with engine.read() as conn:
        return eventlog.read(conn, 0, limit=1000)
