"""Keyset pagination (engine.orders.page): pages cover every order exactly once, newest first, even
while new orders arrive between pages and when many orders share one timestamp; a bad cursor is
refused; the queries are index ranges, not scans."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from deliverycli.engine import status
from deliverycli.engine.clock import ManualClock
from deliverycli.engine.errors import InvalidInput, NotFound


def _walk(engine: Any, limit: int, between: Any = None, **filters: Any) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = engine.orders.page(limit=limit, after=after, **filters)
        assert len(page.orders) <= limit
        seen += [o.id for o in page.orders]
        if page.next is None:
            return seen
        assert page.next == status.cursor(page.orders[-1])
        after = page.next
        if between is not None:
            between()


@pytest.mark.parametrize("limit", [1, 4, 7, 50])
def test_pages_cover_every_order_once_while_new_orders_arrive(engine: Any, reopen: Any, limit: int) -> None:
    clock = ManualClock()
    shop = reopen(clock=clock)
    existing = []
    for n in range(17):
        existing.append(shop.orders.place(("alice", "bob")[n % 2], "pizza-palace", ["margherita"], f"{n} Key St").id)
        if n % 3:
            clock.advance(1)  # some orders share their placed_at: the id breaks the tie
    arrived = []

    def another_arrives() -> None:
        clock.advance(1)
        arrived.append(shop.orders.place("alice", "pizza-palace", ["margherita"], "New St").id)

    seen = _walk(shop, limit, between=another_arrives)
    assert seen == sorted(existing, reverse=True)  # every order that was there, once, newest first; none of the new ones
    assert len(seen) == len(set(seen))
    assert _walk(shop, limit) == sorted(existing + arrived, reverse=True)
    alice = _walk(shop, limit, customer_id="alice")
    assert alice == sorted([o for i, o in enumerate(existing) if i % 2 == 0] + arrived, reverse=True)
    assert alice == [o.id for o in shop.orders.list(customer_id="alice", limit=1000)]  # same order as the OFFSET pages


def test_a_page_with_status_and_store_filters(engine: Any) -> None:
    ids = [engine.orders.place("carol", "seoul-bbq", ["bulgogi"], f"{n} Grill St").id for n in range(5)]
    for order in ids[:3]:
        engine.store.accept(order, "seoul-bbq")
    page = engine.orders.page(store_id="seoul-bbq", status="cooking", limit=2)
    assert [o.id for o in page.orders] == [ids[2], ids[1]] and page.next is not None
    rest = engine.orders.page(store_id="seoul-bbq", status="COOKING", limit=2, after=page.next)
    assert [o.id for o in rest.orders] == [ids[0]] and rest.next is None
    assert engine.orders.page(store_id="seoul-bbq", limit=5).next is None  # exactly a page: no next


def test_bad_cursors_and_unknown_parties_are_refused(engine: Any) -> None:
    engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Bad St")
    for bad in ("", "x", "12.", ".ord-000001", "-5.ord-1", "1e5.ord-1", "9" * 19 + ".ord-1"):
        with pytest.raises(InvalidInput):
            engine.orders.page(after=bad)
    with pytest.raises(InvalidInput):
        engine.orders.page(limit=0)
    with pytest.raises(NotFound):
        engine.orders.page(customer_id="zed")
    with pytest.raises(InvalidInput):
        engine.orders.page(status="LOST")


def test_a_page_far_down_is_an_index_range(sqlite_db: str) -> None:
    """SQLite's plan for a page after a cursor: a SEARCH on an index, no full scan, whatever the filter."""
    from conftest import open_demo_engine

    engine = open_demo_engine(sqlite_db)
    try:
        engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Plan St")
        with engine.read() as conn:
            for filters in ({}, {"customer_id": "alice"}, {"store_id": "pizza-palace"}, {"status": "PAID"}):
                query = status.page_query(**filters, limit=50, after="1796047058557422.ord-000029")
                sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
                assert "SEARCH order_status USING INDEX" in plan and "SCAN order_status" not in plan, (filters, plan)
    finally:
        engine.close()
