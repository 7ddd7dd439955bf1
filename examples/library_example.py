"""The ten scenarios of SPEC §2 through the Python API (``import deliverycli``).

    python examples/library_example.py [DATABASE]

DATABASE is a SQLite file path or a postgresql:// URL; by default a fresh SQLite file in a
temporary directory that is removed afterwards. Every outcome is checked with ``assert``; the
script exits 0 only if the whole story went as SPEC §2 and §5 say.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import deliverycli
from deliverycli.engine.errors import Conflict, DeliveryError, NotPermitted, PaymentFailed

APPROVING_CARD = "4242424242424242"
DECLINING_CARD = "4000000000000002"
FAILING_CARD = "4000000000000119"

# What a customer sees of an order that goes all the way (SPEC §5).
HAPPY_PATH = ["PENDING_PAYMENT", "PAID", "COOKING", "READY_FOR_PICKUP", "DELIVERING", "DELIVERED", "CONFIRMED"]


def say(text: str) -> None:
    print(f"-> {text}", flush=True)


def expect_error(kind: type[DeliveryError], exit_code: int, action: Callable[[], Any]) -> DeliveryError:
    """Run ``action`` and check that it fails with ``kind`` (and the CLI exit code of SPEC §8)."""
    try:
        action()
    except kind as exc:
        assert exc.exit_code == exit_code, f"expected exit code {exit_code}, got {exc.exit_code}: {exc}"
        return exc
    raise AssertionError(f"expected {kind.__name__}, but the call succeeded")


def status_changes(timeline: list[dict[str, Any]]) -> list[str]:
    """The timeline's statuses with repeats collapsed: one entry per status change."""
    changes: list[str] = []
    for entry in timeline:
        if not changes or changes[-1] != entry.status:
            changes.append(entry.status)
    return changes


def story(db: str) -> None:
    say(f"initialising {db} with demo data")
    engine = deliverycli.initialise(db, demo=True)
    with engine:
        # -- browse --------------------------------------------------------------------------
        stores = {s.id for s in engine.catalog.stores()}
        assert {"pizza-palace", "seoul-bbq", "green-bowl"} <= stores, stores
        assert {"alice", "bob", "carol", "dave", "erin"} <= {c.id for c in engine.catalog.customers()}
        assert {"rider-kim", "rider-lee", "rider-park"} <= {r.id for r in engine.catalog.riders()}
        menu = {m.id: m for m in engine.catalog.menu("pizza-palace")}
        assert {"margherita", "pepperoni", "garlic-bread", "cola"} <= set(menu), menu
        say(f"{len(stores)} stores; pizza-palace sells " + ", ".join(f"{m.id} ({m.price:,})" for m in menu.values()))

        # -- 1, 2: order and pay (synchronously) -----------------------------------------------
        order = engine.orders.place("alice", "pizza-palace", ["margherita:2", "cola"], "101 Maple Rd", card=APPROVING_CARD)
        oid = order.id
        expected_total = 2 * menu["margherita"].price + menu["cola"].price
        assert order.status == "PAID", order
        assert order.total == expected_total and isinstance(order.total, int), order
        assert engine.payments.get(oid).status == "APPROVED", engine.payments.get(oid)
        say(f"alice ordered 2 margherita + 1 cola: {oid} is {order.status}, total {order.total:,} {order.currency}")

        # -- 3: the order is in the store's list ------------------------------------------------
        queue = engine.store.queue("pizza-palace")
        assert [q.id for q in queue if q.id == oid] == [oid], queue
        say(f"pizza-palace's queue shows {oid}")

        # -- 9: status at any time ---------------------------------------------------------------
        assert engine.orders.status(oid).status == "PAID"
        say(f"status of {oid}: PAID")

        # -- 5: the store accepts (starts cooking) ----------------------------------------------
        engine.store.accept(oid, "pizza-palace")
        assert engine.orders.status(oid).status == "COOKING", engine.orders.status(oid)
        say(f"pizza-palace accepted {oid}: status COOKING")

        # -- 6: cooking done, the order joins the delivery list -----------------------------------
        engine.store.ready(oid, "pizza-palace")
        assert engine.orders.status(oid).status == "READY_FOR_PICKUP", engine.orders.status(oid)
        available = [d.id for d in engine.deliveries.list(available=True)]
        assert oid in available, available
        say(f"{oid} is READY_FOR_PICKUP and on the list of available deliveries")

        # -- 7: a rider picks it up ----------------------------------------------------------------
        engine.deliveries.pick_up(oid, "rider-kim")
        assert engine.orders.status(oid).status == "DELIVERING", engine.orders.status(oid)
        assert oid not in [d.id for d in engine.deliveries.list(available=True)]
        expect_error(Conflict, 4, lambda: engine.deliveries.pick_up(oid, "rider-lee"))
        say(f"rider-kim picked up {oid}: DELIVERING (rider-lee is too late: conflict)")
        expect_error(NotPermitted, 5, lambda: engine.deliveries.complete(oid, "rider-lee"))
        engine.deliveries.complete(oid, "rider-kim")
        assert engine.orders.status(oid).status == "DELIVERED", engine.orders.status(oid)
        say(f"rider-kim delivered {oid}: DELIVERED (rider-lee may not complete it: not permitted)")

        # -- 8: the customer confirms --------------------------------------------------------------
        expect_error(NotPermitted, 5, lambda: engine.orders.confirm(oid, "bob"))
        confirmed = engine.orders.confirm(oid, "alice")
        assert confirmed.status == "CONFIRMED", confirmed
        view = engine.orders.status(oid)
        assert view.status == "CONFIRMED", view
        assert status_changes(view.timeline) == HAPPY_PATH, view.timeline
        say(f"alice confirmed {oid}: timeline " + " > ".join(status_changes(view.timeline)))

        # -- 10: one notification per status change ------------------------------------------------
        notes = [n for n in engine.notifications.list("customer", "alice") if n.order_id == oid]
        assert [n.status for n in notes] == HAPPY_PATH, [n.status for n in notes]
        say(f"alice got {len(notes)} notifications, one per status change; last: {notes[-1].message!r}")

        # -- 4: cancel before cooking -> CANCELLED and refunded ---------------------------------------
        second = engine.orders.place("bob", "seoul-bbq", ["bulgogi", "sikhye:2"], "22 Pine St")
        assert second.status == "PAID", second
        expect_error(NotPermitted, 5, lambda: engine.orders.cancel(second.id, "alice"))
        cancelled = engine.orders.cancel(second.id, "bob")
        assert cancelled.status == "CANCELLED", cancelled
        assert engine.orders.status(second.id).status == "CANCELLED"
        refund = engine.payments.get(second.id)
        assert refund.status == "REFUNDED" and refund.amount == second.total, refund
        say(f"bob cancelled {second.id} before cooking: CANCELLED, payment {refund.status} ({refund.amount:,})")

        # -- 4 refused: cancel after cooking started -------------------------------------------------
        third = engine.orders.place("carol", "seoul-bbq", ["bibimbap"], "7 Birch Ln")
        engine.store.accept(third.id, "seoul-bbq")
        refused = expect_error(Conflict, 4, lambda: engine.orders.cancel(third.id, "carol"))
        assert engine.orders.status(third.id).status == "COOKING", engine.orders.status(third.id)
        assert engine.payments.get(third.id).status == "APPROVED"
        say(f"carol's cancel of {third.id} was refused (exit code 4): {refused.message}")

        # -- 2 declined / unavailable: no order reaches the store --------------------------------------
        declined = expect_error(PaymentFailed, 6, lambda: engine.orders.place("dave", "green-bowl", ["poke"], "45 Cedar Ave", card=DECLINING_CARD))
        assert isinstance(declined, PaymentFailed) and declined.order_id, declined
        assert engine.orders.status(declined.order_id).status == "REJECTED"
        assert declined.order_id not in [q.id for q in engine.store.queue("green-bowl")]
        say(f"dave's declined card (exit code 6): {declined.order_id} is REJECTED and never reached green-bowl")
        failed = expect_error(PaymentFailed, 6, lambda: engine.orders.place("dave", "green-bowl", ["poke"], "45 Cedar Ave", card=FAILING_CARD))
        assert isinstance(failed, PaymentFailed) and failed.unavailable, failed
        say(f"the failing test card (exit code 6): {failed.message}")

        # -- the store rejects an order with a reason -> CANCELLED and refunded ------------------------
        fifth = engine.orders.place("erin", "green-bowl", ["smoothie", "caesar"], "9 Elm Ct")
        engine.store.reject(fifth.id, "green-bowl", "out of avocados")
        rejected = engine.orders.get(fifth.id)
        assert rejected.status == "CANCELLED", rejected
        assert "out of avocados" in (rejected.reason or ""), rejected
        assert engine.payments.get(fifth.id).status == "REFUNDED", engine.payments.get(fifth.id)
        say(f"green-bowl rejected {fifth.id} ('out of avocados'): CANCELLED, payment REFUNDED")

        # -- the event log --------------------------------------------------------------------------
        say("the last 5 events:")
        for event in engine.events.latest(5):
            print(f"   #{event.id} {event.event_type} {event.order_id} by {event.actor}")
    say("all scenarios passed")


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: python examples/library_example.py [DATABASE]", file=sys.stderr)
        return 2
    if argv:
        story(argv[0])
    else:
        with tempfile.TemporaryDirectory(prefix="deliverycli-example-") as tmp:
            story(str(Path(tmp) / "example.db"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
