"""payments list/show and the CQRS `status ORDER` view, through the real CLI (SPEC §5, §8)."""

from __future__ import annotations

from deliverycli.engine.errors import PaymentFailed

from .support import assert_error, open_engine, snapshot

CARD = "4242424242424242"
DECLINING_CARD = "4000000000000002"


def test_payments_list_and_show_mask_the_card(cli, demo_db):
    with open_engine(demo_db) as engine:
        placed = engine.orders.place("alice", "pizza-palace", ["margherita:2"], "1 Main St", CARD)
        order, total = placed.id, placed.total
        try:
            engine.orders.place("dave", "green-bowl", ["poke"], "45 Cedar Ave", DECLINING_CARD)
            raise AssertionError("the declining test card was approved")
        except PaymentFailed as exc:
            declined = exc.order_id
        engine.store.reject(order, "pizza-palace", "oven broken")  # refunds alice's order

    listed = cli("payments", "list", "--json", db=demo_db)
    assert listed.code == 0
    assert isinstance(listed.json, list) and all("id" in p for p in listed.json)
    by_id = {p["id"]: p for p in listed.json}
    assert set(by_id) == {order, declined}
    assert by_id[order]["status"] == "REFUNDED" and by_id[order]["amount"] == total and by_id[order]["refund_id"]
    assert by_id[declined]["status"] == "DECLINED"
    assert by_id[order]["card"].endswith("4242") and "*" in by_id[order]["card"]

    shown = cli("payments", "show", order, "--json", db=demo_db)
    assert shown.code == 0 and shown.json == by_id[order]

    human_list = cli("payments", "list", db=demo_db)
    human_show = cli("payments", "show", order, db=demo_db)
    assert human_list.code == human_show.code == 0
    assert "REFUNDED" in human_list.stdout and "DECLINED" in human_list.stdout
    assert "**** 4242" in human_show.stdout and "REFUNDED" in human_show.stdout
    for out in (listed, shown, human_list, human_show):
        assert CARD not in out.stdout + out.stderr and "42424242" not in out.stdout  # only ever masked


def test_payments_errors(cli, demo_db):
    before = snapshot(demo_db)
    assert_error(cli("payments", "show", "ord-999999", "--json", db=demo_db), 3)
    assert_error(cli("payments", "list", "--limit", "0", "--json", db=demo_db), 2)
    missing = cli("payments", "show", "ord-999999", db=demo_db)
    assert missing.code == 3 and "ord-999999" in missing.stderr and missing.stdout == ""
    assert snapshot(demo_db) == before


def test_status_view_json_and_human(cli, demo_db):
    with open_engine(demo_db) as engine:
        order = engine.orders.place("carol", "seoul-bbq", ["bibimbap"], "7 Birch Ln").id
        engine.store.accept(order, "seoul-bbq")

    view = cli("status", order, "--json", db=demo_db)
    assert view.code == 0
    data = view.json
    assert data["id"] == order and data["status"] == "COOKING"
    assert data["customer_id"] == "carol" and data["store_id"] == "seoul-bbq" and isinstance(data["total"], int)
    assert all({"status", "at", "event"} <= set(t) for t in data["timeline"])
    statuses = [t["status"] for t in data["timeline"]]
    assert statuses[0] == "PENDING_PAYMENT" and statuses[-1] == "COOKING" and "PAID" in statuses
    assert [t["event"] for t in data["timeline"]][:2] == ["OrderPlaced", "PaymentApproved"]

    human = cli("status", order, db=demo_db)
    assert human.code == 0
    assert "♨ COOKING" in human.stdout  # status is text plus glyph, never colour alone
    assert "$ PAID" in human.stdout and "OrderPlaced" in human.stdout and "CookingStarted" in human.stdout
    assert "Timeline" in human.stdout


def test_status_of_rejected_and_unknown_orders(cli, demo_db):
    with open_engine(demo_db) as engine:
        try:
            engine.orders.place("dave", "green-bowl", ["poke"], "45 Cedar Ave", DECLINING_CARD)
            raise AssertionError("the declining test card was approved")
        except PaymentFailed as exc:
            order = exc.order_id
    before = snapshot(demo_db)

    human = cli("status", order, db=demo_db)
    assert human.code == 0 and "✘ REJECTED" in human.stdout

    assert_error(cli("status", "ord-999999", "--json", db=demo_db), 3)
    assert_error(cli("status", "--json", db=demo_db), 2)  # ORDER missing
    assert snapshot(demo_db) == before
