"""A fixed set of orders in every status, for the snapshot tests and the README's screenshots."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

DECLINED_CARD = "4000000000000002"

# Snapshots are taken this long after the newest event: long enough for orders to count as
# stuck, with every event in one minute of the throughput sparkline, whatever the seeding took.
SNAPSHOT_DELAY = timedelta(minutes=20, seconds=30)


def seed(engine: Any) -> None:
    """Ten orders of the demo's people; the ids come out as ord-000001 .. ord-000010."""
    from deliverycli.engine.errors import PaymentFailed

    def place(customer: str, store: str, items: list[str], address: str, card: str | None = None) -> str:
        return engine.orders.place(customer, store, items, address, card).id

    o1 = place("alice", "pizza-palace", ["margherita:2", "cola"], "101 Maple Rd, apt 4")
    for step in (lambda: engine.store.accept(o1, "pizza-palace"), lambda: engine.store.ready(o1, "pizza-palace"),
                 lambda: engine.deliveries.pick_up(o1, "rider-kim"), lambda: engine.deliveries.complete(o1, "rider-kim"),
                 lambda: engine.orders.confirm(o1, "alice")):
        step()
    o2 = place("bob", "seoul-bbq", ["bulgogi", "sikhye"], "22 Pine St")
    engine.store.accept(o2, "seoul-bbq")
    engine.store.ready(o2, "seoul-bbq")
    engine.deliveries.pick_up(o2, "rider-lee")
    o3 = place("alice", "green-bowl", ["poke", "smoothie"], "101 Maple Rd, apt 4")
    engine.store.accept(o3, "green-bowl")
    engine.store.ready(o3, "green-bowl")
    o4 = place("carol", "pizza-palace", ["pepperoni", "garlic-bread"], "7 Birch Ln")
    engine.store.accept(o4, "pizza-palace")
    place("alice", "pizza-palace", ["margherita"], "101 Maple Rd, apt 4")
    o6 = place("dave", "pizza-palace", ["cola:3"], "45 Cedar Ave, unit 2")
    engine.orders.cancel(o6, "dave")
    try:
        place("erin", "seoul-bbq", ["japchae"], "9 Elm Ct", card=DECLINED_CARD)
    except PaymentFailed:
        pass  # ord-000007 is REJECTED: the card was declined
    o8 = place("bob", "pizza-palace", ["margherita"], "22 Pine St")
    engine.store.reject(o8, "pizza-palace", "out of dough")
    o9 = place("alice", "seoul-bbq", ["bibimbap"], "101 Maple Rd, apt 4")
    engine.store.accept(o9, "seoul-bbq")
    engine.store.ready(o9, "seoul-bbq")
    engine.deliveries.pick_up(o9, "rider-kim")
    engine.deliveries.complete(o9, "rider-kim")
    place("erin", "pizza-palace", ["pepperoni:2"], "9 Elm Ct")


def snapshot_time(engine: Any) -> datetime:
    """The frozen clock of a snapshot: SNAPSHOT_DELAY after the newest event."""
    (newest,) = engine.events.latest(1)
    return newest.occurred_at + SNAPSHOT_DELAY
