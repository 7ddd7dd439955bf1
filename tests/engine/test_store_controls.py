"""Issue 10 §1: what a store and a rider need. Tickets move past READY when a rider takes the food;
a store may pause and mark items sold out (ordering is refused, exit 4, with the reason); accepting
takes a preparation time and everyone sees when the food should be ready; every status change
reaches each party it concerns; a cancellation the order refuses by itself leaves a trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deliverycli.engine.clock import ManualClock
from deliverycli.engine.errors import CancellationRefused, Conflict, InvalidInput, NotFound

from .support import check_invariants, event_types, events_of

STORE = "pizza-palace"


def place(engine: Any, customer: str = "alice", items: tuple[str, ...] = ("margherita",)) -> str:
    return engine.orders.place(customer, STORE, list(items), "1 Test St").id


def notes(engine: Any, kind: str, who: str, order_id: str) -> list[Any]:
    return [n for n in engine.notifications.list(kind, who, limit=1000) if n.order_id == order_id]


def test_a_ticket_moves_past_ready_when_a_rider_takes_and_delivers_it(engine: Any) -> None:
    oid = place(engine)
    engine.store.accept(oid, STORE)
    engine.store.ready(oid, STORE)
    assert [t.status for t in engine.store.queue(STORE, "READY")] == ["READY"]  # waiting for a rider

    engine.deliveries.pick_up(oid, "rider-kim")
    assert engine.store.queue(STORE, "READY") == []
    assert [t.status for t in engine.store.queue(STORE)] == ["PICKED_UP"]

    engine.deliveries.complete(oid, "rider-kim")
    engine.orders.confirm(oid, "alice")
    (ticket,) = engine.store.queue(STORE)
    assert ticket.status == "DONE"
    counts = engine.store.counts(STORE)
    assert (counts["READY"], counts["PICKED_UP"], counts["DONE"]) == (0, 0, 1)
    # "today's": what was handed over before a moment is left out of the counts and the list
    later = ticket.updated_at + timedelta(seconds=1)
    assert engine.store.counts(STORE, since=later)["DONE"] == 0
    assert engine.store.queue(STORE, "DONE", since=later) == []
    assert [t.id for t in engine.store.queue(STORE, "DONE", since=ticket.updated_at)] == [oid]
    check_invariants(engine)


def test_accepting_takes_a_preparation_time_and_everyone_sees_the_estimate(engine: Any, reopen: Any) -> None:
    start = datetime(2026, 11, 30, 12, 20, tzinfo=UTC)
    engine = reopen(clock=ManualClock(start))
    oid = place(engine)
    ticket = engine.store.accept(oid, STORE, prep_min=20)
    ready = start + timedelta(minutes=20)
    assert (ticket.prep_min, ticket.ready_at) == (20, ready)
    assert engine.orders.status(oid).ready_at == ready  # the status view: `status ORDER`
    assert engine.store.queue(STORE)[0].ready_at == ready
    assert [(o.id, o.ready_at) for o in engine.deliveries.upcoming()] == [(oid, ready)]  # riders: when to come
    local = ready.astimezone().strftime("%H:%M")
    (cooking,) = [n for n in notes(engine, "customer", "alice", oid) if n.status == "COOKING"]
    assert f"ready around {local}" in cooking.message
    (started,) = events_of(engine, oid, ["CookingStarted"])
    assert started.payload["prep_min"] == 20

    # without one, the store's usual preparation time
    other = place(engine, "bob")
    assert engine.store.accept(other, STORE).ready_at == start + timedelta(minutes=engine.catalog.store(STORE).prep_min)
    assert [o.id for o in engine.deliveries.upcoming()] == [other, oid]  # soonest ready first (15 < 20 minutes)

    # once ready the estimate no longer matters to riders
    engine.store.ready(oid, STORE)
    assert [o.id for o in engine.deliveries.upcoming()] == [other]
    check_invariants(engine)


@pytest.mark.parametrize("prep_min", [0, 241, -5, True])
def test_a_preparation_time_out_of_range_is_refused_and_changes_nothing(engine: Any, prep_min: Any) -> None:
    oid = place(engine)
    head = engine.events.head()
    with pytest.raises(InvalidInput) as info:
        engine.store.accept(oid, STORE, prep_min=prep_min)
    assert info.value.exit_code == 2 and info.value.field == "prep_min"
    assert engine.events.head() == head and engine.store.queue(STORE)[0].status == "NEW"


def test_a_paused_store_refuses_orders_with_its_reason_until_it_resumes(engine: Any) -> None:
    cooking = place(engine)
    engine.store.accept(cooking, STORE)
    store = engine.store.pause(STORE, "out of flour until 18:00")
    assert (store.paused, store.pause_reason) == (True, "out of flour until 18:00")
    assert engine.catalog.store(STORE).paused and [s.paused for s in engine.catalog.stores() if s.id == STORE] == [True]
    head = engine.events.head()
    with pytest.raises(Conflict) as info:
        place(engine, "bob")
    assert info.value.exit_code == 4
    assert "Pizza Palace is not taking orders right now: out of flour until 18:00" in info.value.message
    assert engine.events.head() == head  # nothing placed, nothing charged
    assert engine.payments.list(100) and all(p.order_id == cooking for p in engine.payments.list(100))
    # the kitchen goes on with what it has
    assert engine.store.ready(cooking, STORE).status == "READY"
    # other stores take orders
    assert engine.orders.place("bob", "seoul-bbq", ["bulgogi"], "2 St").status == "PAID"

    assert not engine.store.resume(STORE).paused
    assert engine.orders.get(place(engine, "bob")).status == "PAID"
    # pausing without a reason says so plainly
    engine.store.pause(STORE)
    with pytest.raises(Conflict, match="Pizza Palace is not taking orders right now;"):
        place(engine)
    check_invariants(engine)


def test_pausing_an_unknown_store_or_with_a_bad_reason_is_refused(engine: Any) -> None:
    with pytest.raises(NotFound):
        engine.store.pause("no-such-store", "closed")
    with pytest.raises(InvalidInput):
        engine.store.pause(STORE, "   ")
    assert not engine.catalog.store(STORE).paused


def test_a_sold_out_item_is_refused_with_its_name_until_it_is_available(engine: Any) -> None:
    item = engine.catalog.sold_out("cola", STORE)
    assert (item.id, item.available) == ("cola", False)
    assert [i.available for i in engine.catalog.menu(STORE) if i.id == "cola"] == [False]
    head = engine.events.head()
    with pytest.raises(Conflict) as info:
        place(engine, items=("margherita", "cola:2"))
    assert info.value.exit_code == 4 and "Cola (cola) is sold out" in info.value.message
    assert engine.events.head() == head
    assert place(engine, items=("margherita",))  # the rest of the menu sells
    assert engine.catalog.available("cola", STORE).available
    assert place(engine, items=("cola",))
    with pytest.raises(InvalidInput, match="sold by seoul-bbq"):
        engine.catalog.sold_out("bulgogi", STORE)
    with pytest.raises(NotFound):
        engine.catalog.sold_out("no-such-item", STORE)
    check_invariants(engine)


def test_a_cancellation_refused_by_the_order_is_recorded_shown_and_told_to_the_store(engine: Any) -> None:
    oid = place(engine)
    engine.store.accept(oid, STORE)
    with pytest.raises(CancellationRefused) as info:
        engine.orders.cancel(oid, "alice")
    message = info.value.message
    assert message == f"Order {oid} was not cancelled: the store has already started cooking, so it can't be cancelled now."
    assert "may go to" not in message and info.value.exit_code == 4
    assert engine.orders.get(oid).status == engine.orders.status(oid).status == "COOKING"
    assert event_types(engine, oid).count("OrderCancellationRefused") == 1
    (refused,) = events_of(engine, oid, ["OrderCancellationRefused"])
    assert (refused.actor, refused.payload["status"]) == ("customer:alice", "COOKING")
    timeline = engine.orders.status(oid).timeline
    assert [(t.event, t.status) for t in timeline][-1] == ("OrderCancellationRefused", "COOKING")
    (store_note,) = [n for n in notes(engine, "store", STORE, oid) if n.status == "COOKING" and "cancel" in n.message]
    assert "already started cooking" in store_note.message
    assert "already started cooking" in notes(engine, "customer", "alice", oid)[-1].message
    assert engine.payments.get(oid).status == "APPROVED"

    # later refusals say why in their own words
    engine.store.ready(oid, STORE)
    with pytest.raises(CancellationRefused, match="waiting for a rider, so it can't be cancelled now"):
        engine.orders.cancel(oid, "alice")
    engine.deliveries.pick_up(oid, "rider-kim")
    engine.deliveries.complete(oid, "rider-kim")
    engine.orders.confirm(oid, "alice")
    head = engine.events.head()
    with pytest.raises(CancellationRefused, match="nothing to cancel"):  # over: nothing for the store to hear
        engine.orders.cancel(oid, "alice")
    assert engine.events.head() == head
    check_invariants(engine)


def test_every_status_change_reaches_each_party_it_concerns(engine: Any) -> None:
    busy = place(engine)
    for step in (lambda: engine.store.accept(busy, STORE), lambda: engine.store.ready(busy, STORE), lambda: engine.deliveries.pick_up(busy, "rider-kim")):
        step()
    oid = place(engine, "bob")
    engine.store.accept(oid, STORE)
    engine.store.ready(oid, STORE)
    # the free riders hear an order waits (rider-kim is on the road with another)
    for rider, expected in (("rider-kim", []), ("rider-lee", ["READY_FOR_PICKUP"]), ("rider-park", ["READY_FOR_PICKUP"])):
        assert [n.status for n in notes(engine, "rider", rider, oid)] == expected, rider
    assert "Pizza Palace" in notes(engine, "rider", "rider-lee", oid)[0].message
    engine.deliveries.pick_up(oid, "rider-lee")
    engine.deliveries.complete(oid, "rider-lee")
    # the assigned rider hears of their delivery; the others do not
    assert [n.status for n in notes(engine, "rider", "rider-lee", oid)] == ["READY_FOR_PICKUP", "DELIVERING", "DELIVERED"]
    assert [n.status for n in notes(engine, "rider", "rider-park", oid)] == ["READY_FOR_PICKUP"]
    # the store hears of every change of its order
    assert [n.status for n in notes(engine, "store", STORE, oid)] == ["PAID", "COOKING", "READY_FOR_PICKUP", "DELIVERING", "DELIVERED"]
    # and a rider who delivered is free again: told of the next order
    engine.deliveries.complete(busy, "rider-kim")
    third = place(engine, "carol")
    engine.store.accept(third, STORE)
    engine.store.ready(third, STORE)
    assert [n.status for n in notes(engine, "rider", "rider-kim", third)] == ["READY_FOR_PICKUP"]
    check_invariants(engine)


def test_the_store_hears_of_a_cancellation_attempt_and_its_outcome(engine: Any) -> None:
    oid = place(engine)
    engine.orders.cancel(oid, "alice")
    assert [n.status for n in notes(engine, "store", STORE, oid)] == ["PAID", "CANCEL_PENDING", "CANCELLED"]
    check_invariants(engine)
