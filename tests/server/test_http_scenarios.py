"""The ten scenarios of SPEC §2 and the cancel/refund path over HTTP, against a real `deliverycli
serve` on SQLite and PostgreSQL, each actor with its own token."""

from __future__ import annotations

import re
from typing import Any

from .support import ADDRESS, Shop


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["detail"] and body["title"], body
    assert body["type"] == f"urn:deliverycli:problem:{code}"
    return body


def test_happy_path_from_menu_to_confirmed(served: Shop) -> None:
    # 1: the customer picks items from a store's menu
    menu = ok(served.call("GET", "/menus", "alice", params={"store_id": "pizza-palace"}))
    assert {"margherita", "cola"} <= {item["id"] for item in menu} and all(item["store_id"] == "pizza-palace" for item in menu)
    # 2: ordering pays synchronously: 201 with the paid order
    order = ok(served.place("alice"), 201)
    oid = order["id"]
    assert (order["status"], order["total"], order["customer_id"], order["address"]) == ("PAID", 2 * 18000 + 2000, "alice", ADDRESS)
    assert [(i["menu_item_id"], i["quantity"]) for i in order["items"]] == [("margherita", 2), ("cola", 1)]
    payment = ok(served.call("GET", f"/payments/{oid}", "alice"))
    assert (payment["status"], payment["amount"], payment["card"]) == ("APPROVED", 38000, "**** 4242")
    # 3: on the store's order list
    queue = ok(served.call("GET", "/stores/pizza-palace/queue", "pizza"))
    assert [(t["order_id"], t["status"]) for t in queue if t["order_id"] == oid] == [(oid, "NEW")]
    assert oid in [o["id"] for o in ok(served.call("GET", "/orders", "pizza"))]
    # 5: the store accepts (cooking); 6: ready, on the delivery list
    assert ok(served.call("POST", f"/orders/{oid}/accept", "pizza"))["status"] == "COOKING"
    assert oid not in [d["order_id"] for d in ok(served.call("GET", "/deliveries", "kim", params={"available": "true"}))]
    assert ok(served.call("POST", f"/orders/{oid}/ready", "pizza"))["status"] == "READY"
    assert oid in [d["order_id"] for d in ok(served.call("GET", "/deliveries", "kim", params={"available": "true"}))]
    # 7: a rider picks it up and delivers
    picked = ok(served.call("POST", f"/deliveries/{oid}/pickup", "kim"))
    assert (picked["status"], picked["rider_id"]) == ("PICKED_UP", "rider-kim")
    assert [d["order_id"] for d in ok(served.call("GET", "/deliveries", "kim"))][0] == oid
    assert ok(served.call("POST", f"/deliveries/{oid}/complete", "kim"))["status"] == "COMPLETED"
    # 8: the customer confirms
    assert ok(served.call("POST", f"/orders/{oid}/confirm", "alice"))["status"] == "CONFIRMED"
    # 9: the status check, with its timeline, for every party of the order
    for who in ("alice", "pizza", "kim", "ops"):
        view = ok(served.call("GET", f"/statusChecks/{oid}", who))
        assert (view["status"], view["rider_id"]) == ("CONFIRMED", "rider-kim")
    statuses = ["PENDING_PAYMENT", "PAID", "COOKING", "READY_FOR_PICKUP", "DELIVERING", "DELIVERED", "CONFIRMED"]
    assert [e["status"] for e in view["timeline"] if e["event"] != "StoreOrderReceived" and e["event"] != "DeliveryRequested"] == statuses
    # 10: a notification to the customer on every status change, in order
    notes = [n for n in ok(served.call("GET", "/notifications", "alice", params={"limit": 1000})) if n["order_id"] == oid]
    assert [n["status"] for n in notes] == statuses
    assert all(n["recipient"] == "customer:alice" for n in notes)
    assert any(n["order_id"] == oid for n in ok(served.call("GET", "/notifications", "kim", params={"limit": 1000})))


def test_cancel_before_cooking_is_cancelled_and_refunded_once(served: Shop) -> None:
    oid = ok(served.place("alice"), 201)["id"]
    cancelled = ok(served.call("POST", f"/orders/{oid}/cancel", "alice"))
    assert cancelled["status"] == "CANCELLED"
    payment = ok(served.call("GET", f"/payments/{oid}", "alice"))
    assert payment["status"] == "REFUNDED" and payment["refund_id"]
    assert [t["status"] for t in ok(served.call("GET", "/stores/pizza-palace/queue", "pizza", params={"status": "CANCELLED"})) if t["order_id"] == oid] == ["CANCELLED"]
    # a second cancel is refused, and refunds nothing again
    problem(served.call("POST", f"/orders/{oid}/cancel", "alice"), 409, "illegal_transition")
    assert ok(served.call("GET", f"/payments/{oid}", "alice"))["refund_id"] == payment["refund_id"]
    events = [e.event_type for e in served.engine.events.read(order_id=oid)]
    assert events.count("PaymentRefunded") == 1


def test_cancel_after_the_store_accepted_is_refused_with_the_reason(served: Shop) -> None:
    oid = ok(served.place("alice"), 201)["id"]
    ok(served.call("POST", f"/orders/{oid}/accept", "pizza"))
    refused = problem(served.call("POST", f"/orders/{oid}/cancel", "alice"), 409, "illegal_transition")
    assert "cooking" in refused["detail"]
    assert ok(served.call("GET", f"/statusChecks/{oid}", "alice"))["status"] == "COOKING"
    assert ok(served.call("GET", f"/payments/{oid}", "alice"))["status"] == "APPROVED"


def test_store_rejection_cancels_and_refunds(served: Shop) -> None:
    oid = ok(served.place("bob", store="seoul-bbq", items=[{"menu_item_id": "bulgogi"}]), 201)["id"]
    problem(served.call("POST", f"/orders/{oid}/reject", "seoul", json={"reason": " "}), 422, "invalid_input")
    ticket = ok(served.call("POST", f"/orders/{oid}/reject", "seoul", json={"reason": "out of beef"}))
    assert (ticket["status"], ticket["reason"]) == ("REJECTED", "out of beef")
    view = ok(served.call("GET", f"/statusChecks/{oid}", "bob"))
    assert view["status"] == "CANCELLED" and "out of beef" in view["reason"]
    assert ok(served.call("GET", f"/payments/{oid}", "bob"))["status"] == "REFUNDED"


def test_a_declined_card_is_402_and_an_unavailable_payment_503_and_neither_reaches_the_store(served: Shop) -> None:
    declined, failing = ("4000000000000002", "4000000000000119")  # the simulated gateway's test cards (payment.TEST_CARDS)
    before = {t["order_id"] for t in ok(served.call("GET", "/stores/pizza-palace/queue", "pizza", params={"limit": 1000}))}
    body = problem(served.place("alice", card=declined), 402, "payment_failed")
    assert "rejected" in body["detail"]
    problem(served.place("alice", card=failing), 503, "payment_failed")
    after = {t["order_id"] for t in ok(served.call("GET", "/stores/pizza-palace/queue", "pizza", params={"limit": 1000}))}
    assert after == before
    rejected = [o for o in ok(served.call("GET", "/orders", "alice", params={"status": "REJECTED", "limit": 1000}))]
    assert len(rejected) >= 2


def test_an_idempotency_key_places_once(served: Shop) -> None:
    def place(item: str) -> Any:
        body = {"store_id": "green-bowl", "items": [{"menu_item_id": item}], "address": ADDRESS}
        return served.call("POST", "/orders", "alice", json=body, headers={"Idempotency-Key": "tablet-42"})

    first = ok(place("poke"), 201)
    assert ok(place("poke"), 201)["id"] == first["id"]
    problem(place("caesar"), 409, "conflict")  # the same key for another order
    assert [p["order_id"] for p in ok(served.call("GET", "/payments", "ops", params={"limit": 1000}))].count(first["id"]) == 1


def test_ops_places_for_a_customer_who_then_owns_the_order(served: Shop) -> None:
    order = ok(served.place("ops", customer_id="carol"), 201)
    assert order["customer_id"] == "carol"
    problem(served.place("ops"), 422, "invalid_input")  # ops must say for whom
    problem(served.place("alice", customer_id="bob"), 403, "not_permitted")  # a customer only for itself
    assert [e.actor for e in served.engine.events.read(order_id=order["id"])][0] == "customer:carol"


def test_only_the_rider_who_picked_up_completes_and_a_second_pickup_loses(served: Shop) -> None:
    oid = ok(served.place("bob"), 201)["id"]
    ok(served.call("POST", f"/orders/{oid}/accept", "pizza"))
    ok(served.call("POST", f"/orders/{oid}/ready", "pizza"))
    ok(served.call("POST", f"/deliveries/{oid}/pickup", "lee"))
    lost = problem(served.call("POST", f"/deliveries/{oid}/pickup", "kim"), 409, "conflict")
    assert "another rider" in lost["detail"]
    problem(served.call("POST", f"/deliveries/{oid}/complete", "kim"), 403, "not_permitted")
    assert ok(served.call("POST", f"/deliveries/{oid}/complete", "lee"))["status"] == "COMPLETED"
    problem(served.call("POST", f"/orders/{oid}/confirm", "alice"), 404, "not_found")  # not alice's
    assert ok(served.call("POST", f"/orders/{oid}/confirm", "bob"))["status"] == "CONFIRMED"


def test_a_paused_store_and_a_sold_out_item_are_refused_with_the_reason(served: Shop) -> None:
    """Issue 10: the store pauses and marks items sold out with its own token; ordering is refused
    with the reason (409), as in the CLI, until it resumes and the item is available again."""
    paused = ok(served.call("POST", "/stores/pizza-palace/pause", "pizza", json={"reason": "out of flour until 18:00"}))
    assert (paused["id"], paused["paused"], paused["pause_reason"]) == ("pizza-palace", True, "out of flour until 18:00")
    head = served.engine.events.head()
    refused = problem(served.place("alice"), 409, "conflict")
    assert "Pizza Palace is not taking orders right now: out of flour until 18:00" in refused["detail"]
    problem(served.call("POST", "/stores/pizza-palace/pause", "seoul"), 403, "not_permitted")  # another store's token
    problem(served.call("POST", "/stores/pizza-palace/pause", "pizza", json={"reason": ""}), 422, "invalid_input")
    assert ok(served.call("POST", "/stores/pizza-palace/resume", "pizza"))["paused"] is False
    sold_out = ok(served.call("POST", "/menus/cola/sold-out", "pizza"))  # a store token: its own store by default
    assert (sold_out["id"], sold_out["available"]) == ("cola", False)
    assert "Cola (cola) is sold out" in problem(served.place("alice"), 409, "conflict")["detail"]
    problem(served.call("POST", "/menus/cola/available", "ops"), 422, "invalid_input")  # ops names the store
    problem(served.call("POST", "/menus/bulgogi/sold-out", "pizza"), 422, "invalid_input")  # another store's item
    assert served.engine.events.head() == head  # nothing placed, nothing charged
    menu = ok(served.call("GET", "/menus", "alice", params={"store_id": "pizza-palace"}))
    assert [item["available"] for item in menu if item["id"] == "cola"] == [False]  # the shop shows it before they try
    assert ok(served.place("alice", items=[{"menu_item_id": "margherita"}]), 201)["status"] == "PAID"
    available = ok(served.call("POST", "/menus/cola/available", "ops", params={"store_id": "pizza-palace"}))
    assert available["available"] is True  # the shop is shared by this module's tests
    assert ok(served.place("alice"), 201)["status"] == "PAID"


def test_a_refused_cancellation_says_why_in_words_and_shows_the_estimate(served: Shop) -> None:
    oid = ok(served.place("alice", items=[{"menu_item_id": "margherita"}]), 201)["id"]
    accepted = ok(served.call("POST", f"/orders/{oid}/accept", "pizza", params={"prep_min": 25}))
    assert accepted["prep_min"] == 25
    refused = problem(served.call("POST", f"/orders/{oid}/cancel", "alice"), 409, "illegal_transition")
    assert refused["detail"] == f"Order {oid} was not cancelled: the store has already started cooking, so it can't be cancelled now."
    view = ok(served.call("GET", f"/statusChecks/{oid}", "alice"))
    assert view["ready_at"] == accepted["ready_at"] and view["timeline"][-1]["event"] == "OrderCancellationRefused"


def test_orders_page_by_key_following_the_link_header(served: Shop) -> None:
    """GET /orders pages by key: each page's Link (rel="next") leads to the next, and following them
    gives every order once, newest first, even when orders are placed between two pages."""
    for _ in range(3):
        ok(served.place("bob", store="seoul-bbq", items=[{"menu_item_id": "bulgogi"}]), 201)
    everything = [o["id"] for o in ok(served.call("GET", "/orders", "bob", params={"limit": 1000}))]
    assert len(everything) >= 3
    seen, url = [], "/orders?limit=2"
    while url:
        response = served.call("GET", url, "bob")
        seen += [o["id"] for o in ok(response)]
        link = response.headers.get("link")
        url = re.fullmatch(r'<http://[^/]+(/orders\?[^>]+)>; rel="next"', link)[1] if link else ""
        if len(seen) == 2:  # placed between two pages: newer than every page still to come
            ok(served.place("bob", store="seoul-bbq", items=[{"menu_item_id": "bulgogi"}]), 201)
    assert seen == everything
    problem(served.call("GET", "/orders", "bob", params={"after": "nonsense"}), 422, "invalid_input")
    problem(served.call("GET", "/orders", "bob", params={"after": "1.x", "offset": 1}), 422, "invalid_input")
    now = [o["id"] for o in ok(served.call("GET", "/orders", "bob", params={"limit": 1000}))]
    assert now[1:] == everything  # the order placed between the pages is the newest
    offset_page = served.call("GET", "/orders", "bob", params={"limit": 2, "offset": 1})
    assert [o["id"] for o in ok(offset_page)] == now[1:3] and "link" not in offset_page.headers  # offset paging, as before
