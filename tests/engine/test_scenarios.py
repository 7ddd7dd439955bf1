"""The ten scenarios of SPEC §2 through the Engine API, on every backend (the ``engine`` fixture)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from deliverycli.engine import delivery, store
from deliverycli.engine.ordering import repository as ordering
from deliverycli.engine.payment import records as payment
from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.commands import AcceptOrder, RejectOrder
from deliverycli.engine.errors import Conflict, IllegalTransition, NotFound, NotPermitted, PaymentFailed

from .support import check_invariants, commit_only, count, event_types, events_of, ledger, rows

ADDRESS = "101 Maple Rd, apt 4"


def place(engine: Any, customer: str = "alice", store_id: str = "pizza-palace", items: Any = ("margherita:2", "cola"), card: str | None = None) -> dict[str, Any]:
    return engine.orders.place(customer, store_id, list(items), ADDRESS, card)


def customer_notes(engine: Any, order_id: str, customer: str = "alice") -> list[dict[str, Any]]:
    return [n for n in engine.notifications.list("customer", customer, limit=1000) if n.order_id == order_id]


# -- 1-3, 5-10: the happy path -------------------------------------------------------------------------


def test_happy_path_to_confirmed(engine: Any) -> None:
    order = place(engine)
    oid = order.id
    assert order.status == "PAID"
    assert order.total == 2 * 18000 + 2000 and isinstance(order.total, int)
    assert [(i.menu_item_id, i.quantity) for i in order.items] == [("margherita", 2), ("cola", 1)]

    # 2/3: paid -> on the store's list; the payment is recorded with only a masked card suffix
    assert [t.id for t in engine.store.queue("pizza-palace")] == [oid]
    assert engine.store.queue("pizza-palace")[0].status == "NEW"
    assert engine.store.queue("seoul-bbq") == []
    pay = engine.payments.get(oid)
    assert (pay.status, pay.amount, pay.card) == ("APPROVED", 38000, "**** 4242")
    assert len(ledger(engine, oid)) == 1

    seen = [engine.orders.status(oid).status]
    assert engine.store.accept(oid, "pizza-palace").status == "COOKING"  # 5
    seen.append(engine.orders.status(oid).status)
    assert engine.deliveries.list(available=True) == []  # not cooked yet
    assert engine.store.ready(oid, "pizza-palace").status == "READY"  # 6
    seen.append(engine.orders.status(oid).status)
    assert [d.id for d in engine.deliveries.list(available=True)] == [oid]
    assert engine.deliveries.pick_up(oid, "rider-kim").rider_id == "rider-kim"  # 7
    seen.append(engine.orders.status(oid).status)
    assert engine.deliveries.list(available=True) == []
    assert engine.deliveries.complete(oid, "rider-kim").status == "COMPLETED"
    seen.append(engine.orders.status(oid).status)
    assert engine.orders.confirm(oid, "alice").status == "CONFIRMED"  # 8
    seen.append(engine.orders.status(oid).status)
    assert seen == ["PAID", "COOKING", "READY_FOR_PICKUP", "DELIVERING", "DELIVERED", "CONFIRMED"]  # 9

    view = engine.orders.status(oid)
    assert view.status == "CONFIRMED" and view.rider_id == "rider-kim"
    assert [(t.event, t.status) for t in view.timeline] == [
        ("OrderPlaced", "PENDING_PAYMENT"),
        ("PaymentApproved", "PAID"),
        ("StoreOrderReceived", "PAID"),
        ("CookingStarted", "COOKING"),
        ("CookingFinished", "READY_FOR_PICKUP"),
        ("DeliveryRequested", "READY_FOR_PICKUP"),
        ("DeliveryPickedUp", "DELIVERING"),
        ("DeliveryCompleted", "DELIVERED"),
        ("DeliveryConfirmed", "CONFIRMED"),
    ]
    assert all(t.at for t in view.timeline)

    # 10: one customer notification per status change, in order, and the others where it concerns them
    statuses = ["PENDING_PAYMENT", "PAID", "COOKING", "READY_FOR_PICKUP", "DELIVERING", "DELIVERED", "CONFIRMED"]
    assert [n.status for n in customer_notes(engine, oid)] == statuses
    assert [n.status for n in engine.notifications.list("store", "pizza-palace")] == statuses[1:]  # every change of its (paid) order
    # every free rider hears an order is ready; then only the one who took it
    assert [n.status for n in engine.notifications.list("rider", "rider-kim")] == ["READY_FOR_PICKUP", "DELIVERING", "DELIVERED", "CONFIRMED"]
    assert [n.status for n in engine.notifications.list("rider", "rider-lee")] == ["READY_FOR_PICKUP"]
    sent = events_of(engine, oid, ["NotificationSent"])
    assert [e.payload["status"] for e in sent] == statuses

    # every event: correlation id, global sequence, schema version, the actor who caused it
    log = events_of(engine, oid)
    assert all(e.order_id == oid and e.payload["order_id"] == oid and e.schema_version == 1 for e in log)
    actors = {e.event_type: e.actor for e in log}
    assert actors["OrderPlaced"] == "customer:alice"
    assert actors["CookingStarted"] == actors["CookingFinished"] == "store:pizza-palace"
    assert actors["DeliveryPickedUp"] == actors["DeliveryCompleted"] == "rider:rider-kim"
    assert actors["DeliveryConfirmed"] == "customer:alice"
    assert actors["StoreOrderReceived"] == "system:store"
    check_invariants(engine)


def test_unknown_order_is_not_found(engine: Any) -> None:
    for call in (lambda: engine.orders.status("ord-999999"), lambda: engine.orders.get("ord-999999"),
                 lambda: engine.orders.cancel("ord-999999", "alice"), lambda: engine.store.accept("ord-999999", "pizza-palace"),
                 lambda: engine.deliveries.pick_up("ord-999999", "rider-kim")):
        with pytest.raises(NotFound) as info:
            call()
        assert info.value.exit_code == 3
    assert engine.events.head() == 0


# -- 4: cancelling -----------------------------------------------------------------------------------


def test_cancel_before_cooking_is_cancelled_and_refunded_once(engine: Any) -> None:
    oid = place(engine).id
    result = engine.orders.cancel(oid, "alice")
    assert result.status == "CANCELLED"
    assert result.reason == "cancelled at the customer's request"
    assert engine.orders.status(oid).status == "CANCELLED"
    pay = engine.payments.get(oid)
    assert pay.status == "REFUNDED" and pay.refund_id
    assert [e.payload["amount"] for e in events_of(engine, oid, ["PaymentRefunded"])] == [38000]
    (entry,) = ledger(engine, oid)
    assert entry.refund_id == pay.refund_id and entry.refunded_at is not None
    assert engine.store.queue("pizza-palace")[0].status == "CANCELLED"
    assert [n.status for n in customer_notes(engine, oid)] == ["PENDING_PAYMENT", "PAID", "CANCEL_PENDING", "CANCELLED"]
    assert [n.status for n in engine.notifications.list("store", "pizza-palace")] == ["PAID", "CANCEL_PENDING", "CANCELLED"]

    # cancelling again, or cooking it now, changes nothing: refunded exactly once
    with pytest.raises(IllegalTransition) as info:
        engine.orders.cancel(oid, "alice")
    assert "already cancelled" in str(info.value)  # in words, not a list of transitions
    with pytest.raises(Conflict):
        engine.store.accept(oid, "pizza-palace")
    assert len(events_of(engine, oid, ["PaymentRefunded"])) == 1
    assert len(events_of(engine, oid, ["OrderCancelled"])) == 1
    check_invariants(engine)


def test_cancel_after_accept_is_a_conflict_and_cooking_goes_on(engine: Any) -> None:
    oid = place(engine).id
    engine.store.accept(oid, "pizza-palace")
    with pytest.raises(Conflict) as info:
        engine.orders.cancel(oid, "alice")
    assert info.value.exit_code == 4
    assert "the store has already started cooking, so it can't be cancelled now" in str(info.value)
    assert engine.orders.get(oid).status == engine.orders.status(oid).status == "COOKING"
    assert event_types(engine, oid).count("OrderCancellationRefused") == 1  # the refusal leaves a trace (issue 10)
    assert engine.payments.get(oid).status == "APPROVED"
    assert ledger(engine, oid)[0].refund_id is None
    # and the order goes on normally
    engine.store.ready(oid, "pizza-palace")
    assert engine.orders.status(oid).status == "READY_FOR_PICKUP"
    check_invariants(engine)


def test_cancel_racing_the_store_accept_is_refused_by_the_store(engine: Any) -> None:
    """The saga: the customer's side still says PAID, but the store already started cooking; the store
    is the authority, refuses, and the customer is told why. No refund."""
    oid = place(engine).id
    commit_only(engine, AcceptOrder(oid, "pizza-palace"))  # another process: the store accepted
    assert engine.orders.get(oid).status == "PAID"
    with pytest.raises(Conflict) as info:
        engine.orders.cancel(oid, "alice")
    assert "already started cooking" in str(info.value)
    assert engine.orders.get(oid).status == engine.orders.status(oid).status == "COOKING"
    types = event_types(engine, oid)
    assert types.count("CancellationRefused") == 1
    assert "PaymentRefunded" not in types and "StoreOrderCancelled" not in types
    assert engine.payments.get(oid).status == "APPROVED"
    notes = customer_notes(engine, oid)
    assert [n.status for n in notes] == ["PENDING_PAYMENT", "PAID", "COOKING", "CANCEL_PENDING", "COOKING"]
    assert "refused" in notes[-1].message and "already started cooking" in notes[-1].message
    check_invariants(engine)


def test_store_reject_cancels_with_reason_and_refunds(engine: Any) -> None:
    oid = place(engine).id
    ticket = engine.store.reject(oid, "pizza-palace", "out of dough")
    assert ticket.status == "REJECTED"
    order = engine.orders.get(oid)
    assert order.status == "CANCELLED" and "out of dough" in order.reason
    view = engine.orders.status(oid)
    assert view.status == "CANCELLED" and "out of dough" in view.reason
    assert engine.payments.get(oid).status == "REFUNDED"
    assert len(events_of(engine, oid, ["PaymentRefunded"])) == 1
    assert ledger(engine, oid)[0].refund_id is not None
    last = customer_notes(engine, oid)[-1]
    assert last.status == "CANCELLED" and "out of dough" in last.message
    check_invariants(engine)


def test_store_reject_racing_a_customer_cancel_ends_cancelled_and_refunded_once(engine: Any) -> None:
    """The store rejects (another process, not yet drained) while the customer cancels: the store
    refuses the cancellation ("already rejected") and refunds for the rejection. The order must end
    CANCELLED everywhere, refunded once; the late refusal must not bring it back to PAID."""
    oid = place(engine).id
    commit_only(engine, RejectOrder(oid, "pizza-palace", "out of dough"))
    result = engine.orders.cancel(oid, "alice")
    assert result.status == "CANCELLED"
    assert engine.orders.get(oid).status == "CANCELLED"
    assert engine.orders.status(oid).status == "CANCELLED"
    assert engine.payments.get(oid).status == "REFUNDED"
    types = event_types(engine, oid)
    assert types.count("PaymentRefunded") == 1 and types.count("OrderCancelled") == 1
    assert [n.status for n in customer_notes(engine, oid)][-1] == "CANCELLED"
    check_invariants(engine)


# -- 2: payment is synchronous; a failed payment never reaches the store -------------------------------


@pytest.mark.parametrize(
    ("card", "unavailable", "why"),
    [
        ("4000000000000002", False, "declined"),
        ("4000000000009995", False, "insufficient funds"),
        ("4000 0000 0000 0119", True, "unavailable"),
    ],
)
def test_failed_payment_rejects_the_order_and_nothing_reaches_the_store(engine: Any, card: str, unavailable: bool, why: str) -> None:
    with pytest.raises(PaymentFailed) as info:
        place(engine, card=card)
    error = info.value
    assert error.exit_code == 6 and error.unavailable is unavailable and why in str(error)
    oid = error.order_id
    assert oid is not None
    order = engine.orders.get(oid)
    assert order.status == "REJECTED" and why in order.reason
    assert engine.orders.status(oid).status == "REJECTED"
    types = event_types(engine, oid)
    assert "PaymentDeclined" in types and "OrderRejected" in types
    assert "StoreOrderReceived" not in types and "PaymentApproved" not in types
    assert engine.store.queue("pizza-palace") == []
    assert count(engine, store.store_orders) == 0
    pay = engine.payments.get(oid)
    assert pay.status == "DECLINED" and pay.card.endswith(card.replace(" ", "")[-4:])
    assert ledger(engine, oid) == []
    assert [n.status for n in customer_notes(engine, oid)] == ["PENDING_PAYMENT", "REJECTED"]
    assert engine.notifications.list("store", "pizza-palace") == []
    check_invariants(engine)


# -- §5 authorization ----------------------------------------------------------------------------------


def test_only_the_right_actor_may_act(engine: Any) -> None:
    oid = place(engine).id
    head = engine.events.head()

    def refused(call: Any) -> None:
        with pytest.raises(NotPermitted) as info:
            call()
        assert info.value.exit_code == 5

    refused(lambda: engine.orders.cancel(oid, "bob"))
    refused(lambda: engine.store.accept(oid, "seoul-bbq"))
    refused(lambda: engine.store.reject(oid, "green-bowl", "spite"))
    assert engine.events.head() == head and engine.orders.get(oid).status == "PAID"

    engine.store.accept(oid, "pizza-palace")
    refused(lambda: engine.store.ready(oid, "seoul-bbq"))
    engine.store.ready(oid, "pizza-palace")
    engine.deliveries.pick_up(oid, "rider-kim")
    head = engine.events.head()
    refused(lambda: engine.deliveries.complete(oid, "rider-lee"))
    assert engine.events.head() == head and engine.orders.status(oid).status == "DELIVERING"
    engine.deliveries.complete(oid, "rider-kim")
    refused(lambda: engine.orders.confirm(oid, "bob"))
    assert engine.orders.status(oid).status == "DELIVERED"
    assert engine.orders.confirm(oid, "alice").status == "CONFIRMED"
    check_invariants(engine)


def test_unknown_actors_are_not_found(engine: Any) -> None:
    oid = place(engine).id
    with pytest.raises(NotFound):
        engine.orders.cancel(oid, "mallory")
    with pytest.raises(NotFound):
        engine.store.accept(oid, "no-such-store")
    assert engine.orders.get(oid).status == "PAID"


# -- §5 two riders racing --------------------------------------------------------------------------


def _ready_order(engine: Any) -> str:
    oid = place(engine).id
    engine.store.accept(oid, "pizza-palace")
    engine.store.ready(oid, "pizza-palace")
    return oid


def test_second_rider_is_told_who_was_faster(engine: Any) -> None:
    oid = _ready_order(engine)
    engine.deliveries.pick_up(oid, "rider-kim")
    with pytest.raises(Conflict) as info:
        engine.deliveries.pick_up(oid, "rider-lee")
    assert "rider-kim" in str(info.value) and info.value.exit_code == 4
    assert [d.rider_id for d in engine.deliveries.list()] == ["rider-kim"]
    assert len(events_of(engine, oid, ["DeliveryPickedUp"])) == 1


def test_two_riders_racing_exactly_one_wins(engine: Any) -> None:
    """Two processes' worth of engines on one database, released at the same instant."""
    orders = [_ready_order(engine) for _ in range(3)]
    riders = ["rider-kim", "rider-lee", "rider-park"]
    engines = [Engine.open(engine.settings) for _ in riders]
    try:
        for oid in orders:
            barrier = threading.Barrier(len(riders))
            outcomes: dict[str, Any] = {}

            def race(eng: Engine, rider: str) -> None:
                barrier.wait()
                try:
                    outcomes[rider] = eng.deliveries.pick_up(oid, rider)
                except Conflict as exc:
                    outcomes[rider] = exc

            threads = [threading.Thread(target=race, args=(e, r)) for e, r in zip(engines, riders)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            winners = [r for r, o in outcomes.items() if not isinstance(o, Exception)]
            losers = [o for o in outcomes.values() if isinstance(o, Conflict)]
            assert len(outcomes) == 3 and len(winners) == 1, outcomes
            assert all(winners[0] in str(o) for o in losers)
            assert len(events_of(engine, oid, ["DeliveryPickedUp"])) == 1
            (row,) = rows(engine, delivery.deliveries, delivery.deliveries.c.order_id == oid)
            assert row.rider_id == winners[0] and row.status == "PICKED_UP"
            assert engine.orders.status(oid).rider_id == winners[0]
    finally:
        for e in engines:
            e.close()
    engine.bus.drain()
    check_invariants(engine)


# -- §7 CQRS: the status view is what the event log says ---------------------------------------------


def test_status_view_equals_a_replay_of_the_event_log(engine: Any) -> None:
    happy = _ready_order(engine)
    engine.deliveries.pick_up(happy, "rider-park")
    engine.deliveries.complete(happy, "rider-park")
    engine.orders.confirm(happy, "alice")
    cancelled = place(engine, "bob", "seoul-bbq", ["bulgogi", "sikhye:2"]).id
    engine.orders.cancel(cancelled, "bob")
    rejected_by_store = place(engine, "carol", "green-bowl", ["poke"]).id
    engine.store.reject(rejected_by_store, "green-bowl", "closed early")
    with pytest.raises(PaymentFailed):
        place(engine, "dave", card="4000000000000002")
    refused = place(engine, "erin").id
    commit_only(engine, AcceptOrder(refused, "pizza-palace"))
    with pytest.raises(Conflict):
        engine.orders.cancel(refused, "erin")
    cooking = place(engine, "alice", "green-bowl", ["smoothie:3"]).id
    engine.store.accept(cooking, "green-bowl")

    summary = check_invariants(engine)  # includes: view == replay of the log through lifecycle.follow
    assert summary["orders"] == 6
    view = {o.id: o.status for o in engine.orders.list(limit=100)}
    assert view == summary["view"]
    assert sorted(view.values()) == sorted(["CONFIRMED", "CANCELLED", "CANCELLED", "REJECTED", "COOKING", "COOKING"])
    # the timeline of every order is the replay, step by step
    from deliverycli.engine.lifecycle import follow

    for oid in view:
        state: tuple[Any, Any] = (None, None)
        expected = []
        for event in events_of(engine, oid):
            if event.event_type == "NotificationSent":
                continue
            state = follow(*state, event.event_type)
            expected.append((event.id, event.event_type, state[0].value))
        assert [(t.event_id, t.event, t.status) for t in engine.orders.status(oid).timeline] == expected
    assert {o.id for o in engine.orders.list(status="cancelled")} == {cancelled, rejected_by_store}
    assert [o.id for o in engine.orders.list(customer_id="bob")] == [cancelled]


# -- §8: bad input never changes the database ------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "store_id", "items", "address", "card", "error"),
    [
        ("alice", "pizza-palace", [], ADDRESS, None, "InvalidInput"),
        ("alice", "pizza-palace", ["margherita:0"], ADDRESS, None, "InvalidInput"),
        ("alice", "pizza-palace", ["margherita:100"], ADDRESS, None, "InvalidInput"),
        ("alice", "pizza-palace", ["margherita:60", "margherita:60"], ADDRESS, None, "InvalidInput"),
        ("alice", "pizza-palace", ["bulgogi"], ADDRESS, None, "InvalidInput"),  # sold by another store
        ("alice", "pizza-palace", ["sushi"], ADDRESS, None, "NotFound"),
        ("mallory", "pizza-palace", ["margherita"], ADDRESS, None, "NotFound"),
        ("alice", "no-such-store", ["margherita"], ADDRESS, None, "NotFound"),
        ("alice", "pizza-palace", ["margherita"], "   ", None, "InvalidInput"),
        ("alice", "pizza-palace", ["margherita"], ADDRESS, "4242-abcd", "InvalidInput"),
    ],
)
def test_bad_orders_change_nothing(engine: Any, customer: str, store_id: str, items: list[str], address: str, card: str | None, error: str) -> None:
    with pytest.raises(Exception) as info:
        engine.orders.place(customer, store_id, items, address, card)
    assert type(info.value).__name__ == error
    assert info.value.exit_code in (2, 3)
    assert engine.events.head() == 0
    assert count(engine, ordering.orders) == 0 and count(engine, payment.payments) == 0
    assert ledger(engine) == []
    # and the order numbers were not used up
    assert place(engine).id == "ord-000001"
