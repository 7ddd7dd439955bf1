"""The engine queries added for the console: bounded whatever the database's size, and right."""

from __future__ import annotations

import bisect
from datetime import timedelta

import deliverycli
import sqlalchemy as sa
from deliverycli.engine import eventlog

from .scenario import seed


def test_events_per_interval_match_a_full_count(tmp_path) -> None:  # noqa: ANN001
    with deliverycli.initialise(str(tmp_path / "q.db"), demo=True) as engine:
        seed(engine)
        with engine.read() as conn:
            times = [row.occurred_at for row in conn.execute(sa.select(eventlog.events.c.occurred_at).order_by(eventlog.events.c.id))]
            first, last = times[0], times[-1]
            for start in (first - timedelta(seconds=5), first + (last - first) / 3, last - timedelta(milliseconds=1), last + timedelta(seconds=1)):
                step = max((last - first) / 7, timedelta(milliseconds=1))
                boundaries = [start + step * i for i in range(12)]
                firsts = [bisect.bisect_left(times, b) for b in boundaries]
                assert eventlog.counts_per_interval(conn, boundaries) == [b - a for a, b in zip(firsts, firsts[1:])]
            assert eventlog.counts_per_interval(conn, []) == []
        ops = engine.ops.overview(stuck_after_s=0, minutes=5)
        assert sum(ops.events_per_minute) == engine.events.head() and len(ops.events_per_minute) == 5
        assert ops.stuck_count == 6 and [o.id for o in ops.stuck][:2] == ["ord-000002", "ord-000003"]
        assert {s.id: s.lag for s in ops.subscribers} == dict.fromkeys(("ordering", "payment", "store", "delivery", "status", "notification"), 0)


def test_store_counts_rider_deliveries_and_feed_filters(tmp_path) -> None:  # noqa: ANN001
    with deliverycli.initialise(str(tmp_path / "q.db"), demo=True) as engine:
        seed(engine)
        counts = {"NEW": 2, "COOKING": 1, "READY": 0, "PICKED_UP": 0, "DONE": 1, "CANCELLED": 1, "REJECTED": 1}  # delivered: past READY
        assert engine.store.counts("pizza-palace") == counts
        kim = engine.deliveries.of_rider("rider-kim")
        assert [(d.id, d.status) for d in kim] == [("ord-000009", "COMPLETED"), ("ord-000001", "COMPLETED")]
        engine.deliveries.pick_up("ord-000003", "rider-kim")
        assert [d.id for d in engine.deliveries.of_rider("rider-kim", limit=2)] == ["ord-000003", "ord-000009"]  # on the road first
        assert {e.order_id for e in engine.events.feed(order_id="ord-000002")} == {"ord-000002"}
        assert [e.event_type for e in engine.events.feed(event_type="OrderCancelled")] == ["OrderCancelled", "OrderCancelled"]
        assert {e.context for e in engine.events.feed(context="payment", limit=5)} == {"payment"}
        head = engine.events.head()
        assert engine.events.feed(after=head) == [] and [e.id for e in engine.events.feed(after=head - 2)] == [head - 1, head]


def test_a_feed_for_one_customer_store_or_rider_holds_exactly_their_orders_events(engine) -> None:  # noqa: ANN001
    """Role separation (issue 10 §2): on SQLite and PostgreSQL, each party's feed is every event of
    its own orders and nothing else, newest ``limit`` or after a position, as the unfiltered feed."""
    seed(engine)
    everything = engine.events.feed(limit=1000)
    mine = {
        "customer_id": {o.id for o in engine.orders.list(customer_id="alice", limit=100)},
        "store_id": {o.id for o in engine.orders.list(store_id="pizza-palace", limit=100)},
        "rider_id": {d.id for d in engine.deliveries.of_rider("rider-kim")},
    }
    assert mine["customer_id"] == {"ord-000001", "ord-000003", "ord-000005", "ord-000009"}
    assert len(mine["store_id"]) == 6 and mine["rider_id"] == {"ord-000001", "ord-000009"}
    for who, actor in (("customer_id", "alice"), ("store_id", "pizza-palace"), ("rider_id", "rider-kim")):
        expected = [e.id for e in everything if e.order_id in mine[who]]
        assert [e.id for e in engine.events.feed(limit=1000, **{who: actor})] == expected, who
        assert [e.id for e in engine.events.feed(limit=3, **{who: actor})] == expected[-3:], who
        assert [e.id for e in engine.events.feed(after=expected[-4], **{who: actor})] == expected[-3:], who
    cancelled = [e.order_id for e in engine.events.feed(event_type="OrderCancelled", store_id="pizza-palace")]
    assert cancelled == ["ord-000006", "ord-000008"]
    assert engine.events.feed(customer_id="alice", store_id="seoul-bbq") == [e for e in everything if e.order_id == "ord-000009"]
    assert engine.events.feed(customer_id="nobody") == [] and engine.events.feed(rider_id="rider-park") == []
