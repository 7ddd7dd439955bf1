"""The store and deliveries command groups, through the real CLI in subprocesses (SPEC §8).

Setup that is not under test (placing orders, moving them along) runs through the engine in this
process, which is just another process on the same database: it keeps the suite fast.
"""

from __future__ import annotations

import re

from .support import assert_error, open_engine, place, snapshot


def test_store_queue_accept_ready_and_deliver(cli, demo_db):
    order = place(demo_db)
    other = place(demo_db, customer="bob", store="seoul-bbq", items=("bulgogi",))

    queue = cli("store", "queue", "--store", "pizza-palace", "--json", db=demo_db)
    assert queue.code == 0
    assert isinstance(queue.json, list) and all("id" in t for t in queue.json)
    assert [(t["id"], t["status"], t["store_id"]) for t in queue.json] == [(order, "NEW", "pizza-palace")]
    assert queue.json[0]["items"][0]["menu_item_id"] == "margherita" and queue.json[0]["total"] > 0

    accepted = cli("store", "accept", order, "--store", "pizza-palace", "--json", db=demo_db)
    assert accepted.code == 0
    assert accepted.json["id"] == order and accepted.json["status"] == "COOKING"

    # --status filters (case-insensitively) and the human queue is grouped under titles
    cooking = cli("store", "queue", "--store", "pizza-palace", "--status", "cooking", "--json", db=demo_db)
    assert [t["id"] for t in cooking.json] == [order]

    ready = cli("--json", "store", "ready", order, "--store", "pizza-palace", db=demo_db)  # --json anywhere on the line
    assert ready.code == 0 and ready.json["status"] == "READY"

    available = cli("deliveries", "list", "--available", "--json", db=demo_db)
    assert available.code == 0
    assert [(d["id"], d["status"], d["rider_id"]) for d in available.json] == [(order, "AVAILABLE", None)]
    assert other not in {d["id"] for d in available.json}

    picked = cli("deliveries", "pickup", order, "--rider", "rider-kim", "--json", db=demo_db)
    assert picked.code == 0
    assert picked.json == picked.json | {"id": order, "status": "PICKED_UP", "rider_id": "rider-kim"}


    done = cli("deliveries", "complete", order, "--rider", "rider-kim", "--json", db=demo_db)
    assert done.code == 0 and done.json["status"] == "COMPLETED" and done.json["id"] == order

    everything = cli("deliveries", "list", "--json", db=demo_db)
    assert [(d["id"], d["status"], d["rider_id"]) for d in everything.json] == [(order, "COMPLETED", "rider-kim")]
    assert everything.json[0]["completed_at"]

    with open_engine(demo_db) as engine:
        assert engine.orders.status(order).status == "DELIVERED"


def test_store_human_output(cli, demo_db):
    new = place(demo_db)
    cooking = place(demo_db, customer="bob", items=("pepperoni", "cola:2"))
    with open_engine(demo_db) as engine:
        engine.store.accept(cooking, "pizza-palace")
    out = cli("store", "queue", "--store", "pizza-palace", db=demo_db)
    assert out.code == 0
    assert "New (1)" in out.stdout and "Cooking (1)" in out.stdout and "Ready" not in out.stdout
    assert out.stdout.index("New (1)") < out.stdout.index(new) < out.stdout.index("Cooking (1)") < out.stdout.index(cooking)
    assert "2 x Margherita" in out.stdout

    accept = cli("store", "accept", new, "--store", "pizza-palace", db=demo_db)
    assert accept.code == 0 and new in accept.stdout and "COOKING" in accept.stdout


def test_store_reject_refunds(cli, demo_db):
    order = place(demo_db, customer="erin", store="green-bowl", items=("smoothie",))
    before = snapshot(demo_db)

    assert_error(cli("store", "reject", order, "--store", "green-bowl", "--reason", "   ", "--json", db=demo_db), 2, "reason")
    assert_error(cli("store", "reject", order, "--store", "seoul-bbq", "--reason", "no", "--json", db=demo_db), 5, "green-bowl")
    assert snapshot(demo_db) == before

    rejected = cli("store", "reject", order, "--store", "green-bowl", "--reason", "out of avocados", "--json", db=demo_db)
    assert rejected.code == 0
    assert rejected.json["status"] == "REJECTED" and rejected.json["reason"] == "out of avocados"
    with open_engine(demo_db) as engine:
        assert engine.orders.status(order).status == "CANCELLED"
        assert engine.payments.get(order).status == "REFUNDED"

    # a rejected ticket cannot be accepted any more: a conflict, nothing changes
    before = snapshot(demo_db)
    assert_error(cli("store", "accept", order, "--store", "green-bowl", "--json", db=demo_db), 4, "REJECTED")
    assert snapshot(demo_db) == before


def test_store_errors_leave_the_database_unchanged(cli, demo_db):
    order = place(demo_db)
    before = snapshot(demo_db)

    assert_error(cli("store", "accept", order, "--store", "seoul-bbq", "--json", db=demo_db), 5, "pizza-palace")
    assert_error(cli("store", "accept", "ord-999999", "--store", "pizza-palace", "--json", db=demo_db), 3, "ord-999999")
    assert_error(cli("store", "queue", "--store", "no-such-store", "--json", db=demo_db), 3)
    error = assert_error(cli("store", "ready", order, "--store", "pizza-palace", "--json", db=demo_db), 4)
    assert "NEW" in error["message"]
    assert_error(cli("store", "queue", "--store", "pizza-palace", "--status", "BURNT", "--json", db=demo_db), 2, "BURNT")

    assert snapshot(demo_db) == before


def test_deliveries_race_permissions_and_errors(cli, demo_db):
    order = place(demo_db)
    with open_engine(demo_db) as engine:
        engine.store.accept(order, "pizza-palace")
        engine.store.ready(order, "pizza-palace")
    before = snapshot(demo_db)

    assert_error(cli("deliveries", "list", "--available", "--rider", "rider-kim", "--json", db=demo_db), 2, "--available")
    assert_error(cli("deliveries", "pickup", order, "--rider", "rider-nobody", "--json", db=demo_db), 3)
    assert_error(cli("deliveries", "complete", order, "--rider", "rider-kim", "--json", db=demo_db), 4, "no rider has picked it up")  # a state conflict, not a permission one
    assert snapshot(demo_db) == before

    assert cli("deliveries", "pickup", order, "--rider", "rider-kim", "--json", db=demo_db).code == 0
    before = snapshot(demo_db)
    late = cli("deliveries", "pickup", order, "--rider", "rider-lee", "--json", db=demo_db)
    assert_error(late, 4, "rider-kim")  # names who was faster
    assert_error(cli("deliveries", "complete", order, "--rider", "rider-lee", "--json", db=demo_db), 5, "rider-kim")
    assert snapshot(demo_db) == before

    listed = cli("deliveries", "list", "--rider", "rider-kim", db=demo_db)  # human table
    assert listed.code == 0 and order in listed.stdout and "PICKED_UP" in listed.stdout and "rider-kim" in listed.stdout
    assert re.search(r"\d\d:\d\d:\d\d", listed.stdout)
