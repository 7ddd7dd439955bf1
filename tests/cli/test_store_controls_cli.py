"""Issue 10 §1 through the real CLI: pausing a store and selling out an item (ordering exits 4 with
the reason and changes nothing), a preparation time and the estimate everyone sees, the queue past
READY (picked up, done today), and a refused cancellation said in people's words."""

from __future__ import annotations

from .support import assert_error, open_engine, place, snapshot

STORE = "pizza-palace"
ORDER = ("orders", "place", "--customer", "bob", "--store", STORE, "--address", "2 Pine St")


def test_a_paused_store_refuses_orders_with_the_reason_until_resumed(cli, demo_db):
    paused = cli("store", "pause", "--store", STORE, "--reason", "out of flour until 18:00", "--json", db=demo_db)
    assert paused.code == 0 and (paused.json["id"], paused.json["paused"], paused.json["pause_reason"]) == (STORE, True, "out of flour until 18:00")
    listed = cli("stores", "list", db=demo_db)
    assert "no: out of flour until 18:00" in listed.stdout

    before = snapshot(demo_db)
    refused = cli(*ORDER, "--item", "margherita", "--json", db=demo_db)
    assert_error(refused, 4, "Pizza Palace is not taking orders right now: out of flour until 18:00", "nothing was charged")
    human = cli(*ORDER, "--item", "margherita", db=demo_db)
    assert human.code == 4 and "not taking orders right now" in human.stderr and "Traceback" not in human.stderr
    assert snapshot(demo_db) == before  # refused: nothing placed, nothing charged

    resumed = cli("store", "resume", "--store", STORE, db=demo_db)
    assert resumed.code == 0 and "taking orders" in resumed.stdout
    assert cli(*ORDER, "--item", "margherita", "--json", db=demo_db).json["status"] == "PAID"
    assert_error(cli("store", "pause", "--store", "nowhere", "--json", db=demo_db), 3, "nowhere")


def test_a_sold_out_item_is_refused_until_available_again(cli, demo_db):
    sold = cli("menus", "sold-out", "cola", "--store", STORE, "--json", db=demo_db)
    assert sold.code == 0 and (sold.json["id"], sold.json["available"]) == ("cola", False)
    menu = cli("menus", "list", "--store", STORE, db=demo_db)
    assert "sold out" in menu.stdout

    before = snapshot(demo_db)
    assert_error(cli(*ORDER, "--item", "margherita", "--item", "cola", "--json", db=demo_db), 4, "Cola (cola) is sold out")
    assert snapshot(demo_db) == before

    again = cli("menus", "available", "cola", "--store", STORE, "--json", db=demo_db)
    assert again.code == 0 and again.json["available"] is True
    assert cli(*ORDER, "--item", "cola", "--json", db=demo_db).code == 0
    assert_error(cli("menus", "sold-out", "bulgogi", "--store", STORE, "--json", db=demo_db), 2, "seoul-bbq")
    assert_error(cli("menus", "sold-out", "nothing", "--store", STORE, "--json", db=demo_db), 3, "nothing")


def test_accepting_with_a_preparation_time_shows_when_it_will_be_ready(cli, demo_db):
    order = place(demo_db)
    assert_error(cli("store", "accept", order, "--store", STORE, "--prep-min", "0", "--json", db=demo_db), 2, "--prep-min")
    accepted = cli("store", "accept", order, "--store", STORE, "--prep-min", "20", "--json", db=demo_db)
    assert accepted.code == 0 and accepted.json["prep_min"] == 20 and accepted.json["ready_at"]
    ready_at = accepted.json["ready_at"]

    status = cli("status", order, "--json", db=demo_db)
    assert status.json["ready_at"] == ready_at
    human = cli("status", order, db=demo_db)
    assert "ready        around " in human.stdout
    upcoming = cli("deliveries", "upcoming", "--json", db=demo_db)
    assert [(o["id"], o["ready_at"]) for o in upcoming.json] == [(order, ready_at)]
    queue = cli("store", "queue", "--store", STORE, db=demo_db)
    assert "ETA" in queue.stdout

    # the refused cancellation, in people's words, recorded for the store
    cancel = cli("orders", "cancel", order, "--customer", "alice", "--json", db=demo_db)
    error = assert_error(cancel, 4, "the store has already started cooking, so it can't be cancelled now")
    assert "may go to" not in error["message"]
    timeline = cli("status", order, "--json", db=demo_db).json["timeline"]
    assert timeline[-1]["event"] == "OrderCancellationRefused"
    store_notes = cli("notifications", "list", "--store", STORE, "--json", db=demo_db).json
    assert any(n["order_id"] == order and "already started cooking" in n["message"] for n in store_notes)


def test_the_queue_moves_past_ready_when_a_rider_takes_the_food(cli, demo_db):
    order = place(demo_db)
    with open_engine(demo_db) as engine:
        engine.store.accept(order, STORE)
        engine.store.ready(order, STORE)
    assert "Ready (waiting for a rider) (1)" in cli("store", "queue", "--store", STORE, db=demo_db).stdout
    assert cli("deliveries", "pickup", order, "--rider", "rider-kim", db=demo_db).code == 0
    assert cli("store", "queue", "--store", STORE, "--status", "ready", "--json", db=demo_db).json == []
    picked = cli("store", "queue", "--store", STORE, "--status", "picked_up", "--json", db=demo_db)
    assert [t["id"] for t in picked.json] == [order]
    assert cli("deliveries", "complete", order, "--rider", "rider-kim", db=demo_db).code == 0
    queue = cli("store", "queue", "--store", STORE, db=demo_db)
    assert "Done (1)" in queue.stdout and "Ready" not in queue.stdout
    done = cli("store", "queue", "--store", STORE, "--status", "DONE", "--all-days", "--json", db=demo_db)
    assert [(t["id"], t["status"]) for t in done.json] == [(order, "DONE")]
