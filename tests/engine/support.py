"""Helpers shared by the engine tests: direct table reads, committing without draining, replay."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import sqlalchemy as sa

from deliverycli.engine import delivery, eventlog, notification, ordering, payment, status, store
from deliverycli.engine.lifecycle import OrderStatus, follow



def rows(engine: Any, table: sa.Table, *where: Any) -> list[sa.Row]:
    with engine.read() as conn:
        return conn.execute(sa.select(table).where(*where)).all()


def count(engine: Any, table: sa.Table, *where: Any) -> int:
    with engine.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def events_of(engine: Any, order_id: str | None = None, types: list[str] | None = None) -> list[Any]:
    with engine.read() as conn:
        return eventlog.read(conn, 0, order_id=order_id, types=types, limit=100_000)


def event_types(engine: Any, order_id: str) -> list[str]:
    return [e.event_type for e in events_of(engine, order_id)]


def ledger(engine: Any, order_id: str | None = None) -> list[sa.Row]:
    """The simulated gateway's own records (its own database)."""
    gw = engine.gateway if isinstance(engine.gateway, payment.SimulatedGateway) else engine.gateway.inner
    gw._ensure_ledger()
    query = sa.select(payment.gateway_ledger)
    if order_id is not None:
        query = query.where(payment.gateway_ledger.c.idempotency_key == order_id)
    with gw.engine.connect() as conn, conn.execution_options(readonly=True).begin():
        return conn.execute(query).all()


def commit_only(engine: Any, command: Any) -> Any:
    """Run a command's handler as the bus would, but do not drain: its events stay undelivered,
    as after a crash between the commit and the dispatch (or a command from another process)."""
    return engine.bus.command_handlers[type(command)](command, engine.bus)


def replay(events: list[Any]) -> dict[str, tuple[OrderStatus | None, OrderStatus | None]]:
    """Each order's (status, resume) from the event log alone, through lifecycle.follow."""
    state: dict[str, tuple[OrderStatus | None, OrderStatus | None]] = defaultdict(lambda: (None, None))
    for event in events:
        state[event.order_id] = follow(*state[event.order_id], event.event_type)
    return dict(state)


def status_changes(events: list[Any]) -> dict[str, list[tuple[int, OrderStatus]]]:
    """Per order, the (event id, new status) of every event that changed the customer-visible status."""
    changes: dict[str, list[tuple[int, OrderStatus]]] = defaultdict(list)
    state: dict[str, tuple[Any, Any]] = defaultdict(lambda: (None, None))
    for event in events:
        before = state[event.order_id][0]
        state[event.order_id] = follow(*state[event.order_id], event.event_type)
        if state[event.order_id][0] != before:
            changes[event.order_id].append((event.id, state[event.order_id][0]))
    return dict(changes)


def check_invariants(engine: Any) -> dict[str, Any]:
    """Exactly-once, in every subscriber, checked from the tables against the event log."""
    assert all(v == 0 for v in engine.bus.lag().values()), engine.bus.lag()
    assert engine.dead_letters() == [], engine.dead_letters()
    log = events_of(engine)
    ids = [e.id for e in log]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    by_type = Counter(e.event_type for e in log)
    placed = {e.order_id for e in log if e.event_type == "OrderPlaced"}
    with engine.read() as conn:
        def n(table: sa.Table, *where: Any) -> int:
            return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()

        # ordering: one order per OrderPlaced, and its status agrees with the log
        assert n(ordering.orders) == len(placed) == by_type["OrderPlaced"]
        # store: one ticket per PaymentApproved, announced exactly once
        assert n(store.store_orders) == by_type["PaymentApproved"] == by_type["StoreOrderReceived"]
        # delivery: one delivery per CookingFinished, requested exactly once
        assert n(delivery.deliveries) == by_type["CookingFinished"] == by_type["DeliveryRequested"]
        # payment: one refund event per refunded payment, one payment row per settled order
        assert n(payment.payments, payment.payments.c.status == "REFUNDED") == by_type["PaymentRefunded"]
        assert n(payment.payments) == by_type["PaymentApproved"] + by_type["PaymentDeclined"]
        assert by_type["PaymentRefunded"] == by_type["OrderCancelled"]
        # status view: one row per order, one timeline entry per (non-notification) event
        assert n(status.order_status) == len(placed)
        timeline = conn.execute(sa.select(status.order_timeline.c.event_id)).scalars().all()
        expected_timeline = [e.id for e in log if e.event_type != "NotificationSent"]
        assert sorted(timeline) == expected_timeline
        view = {r.order_id: r.status for r in conn.execute(sa.select(status.order_status))}
        own = {r.id: r.status for r in conn.execute(sa.select(ordering.orders))}
        # notifications: one per (event, recipient), and one customer notification per status change
        notes = conn.execute(sa.select(notification.notifications)).all()
    keys = [(r.event_id, r.recipient_type, r.recipient_id) for r in notes]
    assert len(keys) == len(set(keys))
    replayed = replay(log)
    assert view == {order_id: s.value for order_id, (s, _) in replayed.items()}
    changes = status_changes(log)
    customer_notes = sorted((r.event_id, r.status) for r in notes if r.recipient_type == "customer")
    assert customer_notes == sorted((eid, s.value) for ch in changes.values() for eid, s in ch)
    assert by_type["NotificationSent"] == len({r.event_id for r in notes})
    # the ordering aggregate settles where the log says (it may only differ while a saga is open)
    for order_id, order_status in own.items():
        assert order_status == view[order_id], (order_id, order_status, view[order_id])
    # and the product's own check (deliverycli doctor --check) agrees
    from deliverycli.engine import invariants

    problems = invariants.check(engine)
    assert problems == [], [str(p) for p in problems]
    return {"events": len(log), "orders": len(placed), "by_type": by_type, "view": view}


def demo_engine(db: str, **overrides: Any) -> Any:
    """An initialised demo database and an open engine on it (as tests/conftest.py's open_demo_engine)."""
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.settings import load_settings

    engine, _ = Engine.initialise(load_settings(db=db, **overrides), demo=True)
    return engine
