"""The orders command group through the real CLI in subprocesses: JSON shapes, exit codes 0/2/3/4/5/6,
and bad input leaving the database unchanged."""

from __future__ import annotations

import pytest

from .support import assert_error, open_engine, place, snapshot

PLACE = ("orders", "place", "--customer", "alice", "--store", "pizza-palace", "--address", "101 Maple Rd")


def test_place_prints_the_paid_order(cli, demo_db):
    result = cli(*PLACE, "--item", "margherita:2", "--item", "cola", "--json", db=demo_db)
    assert result.code == 0, result.stderr
    order = result.json
    assert {"id", "status", "customer_id", "store_id", "total"} <= set(order)
    assert order["status"] == "PAID" and order["customer_id"] == "alice" and order["store_id"] == "pizza-palace"
    assert order["total"] == 2 * 18000 + 2000
    assert [(i["menu_item_id"], i["quantity"]) for i in order["items"]] == [("margherita", 2), ("cola", 1)]

    human = cli("orders", "show", order["id"], db=demo_db)
    assert human.code == 0 and "38,000 KRW" in human.stdout and "PAID" in human.stdout


def test_declined_and_failing_cards_exit_6_and_reach_no_store(cli, demo_db):
    declined = cli(*PLACE, "--item", "margherita", "--card", "4000000000000002", "--json", db=demo_db)
    assert_error(declined, 6, "declined")
    unavailable = cli(*PLACE, "--item", "margherita", "--card", "4000 0000 0000 0119", "--json", db=demo_db)
    assert_error(unavailable, 6, "unavailable")
    with open_engine(demo_db) as engine:
        assert [o.status for o in engine.orders.list()] == ["REJECTED", "REJECTED"]
        assert engine.store.queue("pizza-palace") == []
        assert all(p.status == "DECLINED" and p.card.endswith("0119") or p.card.endswith("0002") for p in engine.payments.list())


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--item", "margherita:0"), 2),
        (("--item", "margherita:-1"), 2),
        (("--item", "margherita:100000"), 2),
        (("--item", "margherita:two"), 2),
        (("--item", ":3"), 2),
        (("--item", "bulgogi"), 2),  # another store's dish
        (("--item", "no-such-dish"), 3),
        (("--item", "margherita", "--card", "not-a-card"), 2),
    ],
)
def test_bad_order_input_exits_with_its_code_and_changes_nothing(cli, demo_db, args, code):
    before = snapshot(demo_db)
    assert_error(cli(*PLACE, *args, "--json", db=demo_db), code)
    assert snapshot(demo_db) == before


def test_bad_parties_and_addresses(cli, demo_db):
    before = snapshot(demo_db)
    base = ("orders", "place", "--item", "margherita")
    assert_error(cli(*base, "--customer", "zed", "--store", "pizza-palace", "--address", "x", "--json", db=demo_db), 3, "zed")
    assert_error(cli(*base, "--customer", "alice", "--store", "nowhere", "--address", "x", "--json", db=demo_db), 3, "nowhere")
    assert_error(cli(*base, "--customer", "alice", "--store", "pizza-palace", "--address", "  ", "--json", db=demo_db), 2)
    assert_error(cli(*base, "--customer", "alice", "--store", "pizza-palace", "--address", "a" * 10_000, "--json", db=demo_db), 2)
    assert_error(cli(*base, "--customer", "alice", "--store", "pizza-palace", "--address", "x\x07y", "--json", db=demo_db), 2)
    missing = cli("orders", "place", "--customer", "alice", "--json", db=demo_db)
    assert_error(missing, 2)
    assert snapshot(demo_db) == before


def test_cancel_before_cooking_refunds_and_after_cooking_is_refused(cli, demo_db):
    early = place(demo_db)
    cancelled = cli("orders", "cancel", early, "--customer", "alice", "--json", db=demo_db)
    assert cancelled.code == 0 and cancelled.json["status"] == "CANCELLED" and cancelled.json["id"] == early
    assert cli("payments", "show", early, "--json", db=demo_db).json["status"] == "REFUNDED"
    assert_error(cli("orders", "cancel", early, "--customer", "alice", "--json", db=demo_db), 4, "already cancelled")

    late = place(demo_db)
    with open_engine(demo_db) as engine:
        engine.store.accept(late, "pizza-palace")
    before = snapshot(demo_db)
    refused = assert_error(cli("orders", "cancel", late, "--customer", "alice", "--json", db=demo_db), 4)
    assert "the store has already started cooking, so it can't be cancelled now" in refused["message"]
    after = snapshot(demo_db)
    # the refusal leaves a trace (an event, and the customer and the store are told); nothing else changes
    assert [e["event_type"] for e in after["events"][len(before["events"]):]] == ["OrderCancellationRefused", "NotificationSent"]
    assert {k: after[k] for k in ("queues", "payments", "deliveries")} == {k: before[k] for k in ("queues", "payments", "deliveries")}
    assert [(o["id"], o["status"]) for o in after["orders"]] == [(o["id"], o["status"]) for o in before["orders"]]


def test_only_the_ordering_customer_may_cancel_or_confirm(cli, demo_db):
    order = place(demo_db)
    before = snapshot(demo_db)
    assert_error(cli("orders", "cancel", order, "--customer", "bob", "--json", db=demo_db), 5)
    assert_error(cli("orders", "confirm", order, "--customer", "bob", "--json", db=demo_db), 5)
    assert_error(cli("orders", "confirm", order, "--customer", "alice", "--json", db=demo_db), 4, "PAID")
    assert_error(cli("orders", "cancel", "ord-999999", "--customer", "alice", "--json", db=demo_db), 3)
    assert snapshot(demo_db) == before


def test_confirm_after_delivery(cli, demo_db):
    order = place(demo_db)
    with open_engine(demo_db) as engine:
        engine.store.accept(order, "pizza-palace")
        engine.store.ready(order, "pizza-palace")
        engine.deliveries.pick_up(order, "rider-kim")
        engine.deliveries.complete(order, "rider-kim")
    confirmed = cli("orders", "confirm", order, "--customer", "alice", "--json", db=demo_db)
    assert confirmed.code == 0 and confirmed.json["status"] == "CONFIRMED"


def test_list_filters_and_pages(cli, demo_db):
    first = place(demo_db)
    second = place(demo_db, customer="bob", store="seoul-bbq", items=("bulgogi",))
    everything = cli("orders", "list", "--json", db=demo_db).json
    assert [o["id"] for o in everything] == [second, first] and all("id" in o for o in everything)
    assert [o["id"] for o in cli("orders", "list", "--customer", "bob", "--json", db=demo_db).json] == [second]
    assert [o["id"] for o in cli("orders", "list", "--store", "pizza-palace", "--status", "paid", "--json", db=demo_db).json] == [first]
    assert [o["id"] for o in cli("orders", "list", "--limit", "1", "--offset", "1", "--json", db=demo_db).json] == [first]
    assert_error(cli("orders", "list", "--status", "EATEN", "--json", db=demo_db), 2, "EATEN")
    assert_error(cli("orders", "list", "--customer", "zed", "--json", db=demo_db), 3)
    assert_error(cli("orders", "show", "ord-424242", "--json", db=demo_db), 3)


def test_global_options_anywhere_and_human_errors_on_stderr(cli, demo_db):
    at_end = cli("orders", "list", "--json", db=demo_db)
    assert at_end.code == 0 and at_end.json == []
    human = cli("orders", "show", "ord-000404", db=demo_db)
    assert human.code == 3 and human.stdout == "" and "no order" in human.stderr
