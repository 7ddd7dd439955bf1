"""Dead letters (SPEC §6): a handler that keeps failing is parked; an operator sees it and retries it."""

from __future__ import annotations

from typing import Any

from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.messagebus import Subscriber
from deliverycli.settings import load_settings

from .support import assert_error, run_all


def park_a_dead_letter(db: str) -> str:
    """Place and accept an order with an engine whose notification handler for CookingStarted
    always fails, so that event is parked; returns the order id. The real CLI's engine is healthy."""
    settings = load_settings(db=db, retry_max_attempts=2, retry_backoff_s=0.001)

    def channel_down(event: Any, uow: Any) -> None:
        raise RuntimeError("notification channel down")

    def broken(subscribers: list[Subscriber]) -> list[Subscriber]:
        return [Subscriber(s.name, {**s.handlers, "CookingStarted": channel_down}) if s.name == "notification" else s for s in subscribers]

    with Engine.open(settings, subscribers=broken) as engine:
        order_id = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Main St").id
        engine.store.accept(order_id, "pizza-palace")
    return order_id


def notification_statuses(db: str, order_id: str) -> list[str]:
    with Engine.open(load_settings(db=db), catch_up=False) as engine:
        return [n.status for n in engine.notifications.list("customer", "alice", limit=1000) if n.order_id == order_id]


def test_a_parked_event_is_listed_flagged_by_doctor_and_retried_once(demo_db: str, cli) -> None:
    order_id = park_a_dead_letter(demo_db)
    assert "COOKING" not in notification_statuses(demo_db, order_id)

    listed, doctor, human = run_all(cli, [("deadletters", "list", "--json"), ("doctor", "--json"), ("deadletters", "list")], db=demo_db)
    assert listed.code == 0, listed.stderr
    [letter] = listed.json
    assert letter["subscriber"] == "notification" and letter["event_type"] == "CookingStarted"
    assert letter["order_id"] == order_id and letter["attempts"] == 2
    assert "notification channel down" in letter["error"] and letter["resolved_at"] is None
    assert {"id", "event_id", "parked_at"} <= set(letter)
    assert human.code == 0 and f"dead letter {letter['id']}" in human.stdout and "CookingStarted" in human.stdout

    assert doctor.code == 1, doctor.stdout + doctor.stderr
    report = doctor.json
    assert report["healthy"] is False and report["dead_letters"] == 1
    assert report["dead_letter_list"] == [letter]
    named = [p for p in report["problems"] if f"dead letter {letter['id']}" in p]
    assert named and "CookingStarted" in named[0] and order_id in named[0] and f"deadletters retry {letter['id']}" in named[0]

    retried = cli("deadletters", "retry", str(letter["id"]), "--json", db=demo_db)
    assert retried.code == 0, retried.stdout + retried.stderr
    assert retried.json["id"] == letter["id"] and retried.json["resolved_at"] is not None
    assert "COOKING" in notification_statuses(demo_db, order_id)  # the customer is told after all

    again, waiting, everything, doctor_after = run_all(
        cli, [("deadletters", "retry", str(letter["id"]), "--json"), ("deadletters", "list", "--json"), ("deadletters", "list", "--all", "--json"), ("doctor",)], db=demo_db
    )
    assert_error(again, 4, "already")
    assert waiting.json == []
    assert [d["id"] for d in everything.json] == [letter["id"]] and everything.json[0]["resolved_at"]
    assert doctor_after.code == 0, doctor_after.stdout
    assert notification_statuses(demo_db, order_id).count("COOKING") == 1  # the retry took effect exactly once


def test_retry_of_an_unknown_or_malformed_id(demo_db: str, cli) -> None:
    unknown, malformed, empty = run_all(cli, [("deadletters", "retry", "999", "--json"), ("deadletters", "retry", "abc", "--json"), ("deadletters", "list", "--json")], db=demo_db)
    assert_error(unknown, 3, "999")
    assert_error(malformed, 2)
    assert empty.code == 0 and empty.json == []
