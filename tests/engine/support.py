"""Helpers shared by the engine tests: direct table reads, committing without draining, replay."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from deliverycli.engine import eventlog
from deliverycli.engine.delivery import deliveries
from deliverycli.engine.lifecycle import OrderState, OrderStatus, fold
from deliverycli.engine.notification import notifications
from deliverycli.engine.ordering.repository import orders
from deliverycli.engine.payment.records import payments
from deliverycli.engine.status import order_status, order_timeline
from deliverycli.engine.store import store_orders


# A process that dies by SIGKILL mid-drain (see the script), for the kill tests.
KILLED_CHILD = str(Path(__file__).with_name("killed_child.py"))


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


def ledger(engine: Any, order_id: str | None = None) -> list[Any]:
    """The payment provider's own records (the simulated one keeps them in its own database)."""
    charges = engine.gateway.charges()
    return [charge for key, charge in sorted(charges.items()) if order_id is None or key == order_id]


def with_handler(subscriber: str, event_type: str, handler: Any) -> Any:
    """For ``Engine(subscribers=...)``: the default subscribers, with one subscriber handling one
    event type by ``handler`` (event by event: its batch handler is left out)."""

    def customise(subscribers: list[Any]) -> list[Any]:
        return [
            dataclasses.replace(s, handlers={**s.handlers, event_type: handler}, batch=None) if s.name == subscriber else s
            for s in subscribers
        ]

    return customise


class Switch:
    """A handler whose implementation a test can change while the engine runs (a fix deployed)."""

    def __init__(self, to: Any) -> None:
        self.to = to

    def __call__(self, event: Any, uow: Any) -> None:
        self.to(event, uow)


class Delegating:
    """A payment provider double: the real one, with the operations a test overrides."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def commit_only(engine: Any, command: Any) -> Any:
    """Run a command but do not drain: its events stay undelivered, as after a crash between the
    commit and the dispatch (or a command from another process)."""
    return engine.handle(command, settle=False)


def replay(events: list[Any]) -> dict[str, OrderState]:
    """Each order's state from the event log alone, through the one fold (lifecycle.fold)."""
    states: dict[str, OrderState] = {}
    for event in events:
        fold(states, event)
    return states


def status_changes(events: list[Any], notices: bool = False) -> dict[str, list[tuple[int, OrderStatus]]]:
    """Per order, the (event id, new status) of every event that changed the customer-visible status
    (with ``notices``, also of the events told to people without a change: a refused cancellation)."""
    from deliverycli.engine.notification import NOTICES

    changes: dict[str, list[tuple[int, OrderStatus]]] = defaultdict(list)
    states: dict[str, OrderState] = {}
    for event in events:
        state, changed = fold(states, event)
        if changed or (notices and state is not None and event.event_type in NOTICES):
            changes[event.order_id].append((event.id, state.status))
    return dict(changes)


def check_invariants(engine: Any) -> dict[str, Any]:
    """Exactly-once, in every subscriber, checked from the tables against the event log."""
    assert all(v == 0 for v in engine.ops.lag().values()), engine.ops.lag()
    assert engine.ops.dead_letters() == [], engine.ops.dead_letters()
    log = events_of(engine)
    ids = [e.id for e in log]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    by_type = Counter(e.event_type for e in log)
    placed = {e.order_id for e in log if e.event_type == "OrderPlaced"}
    with engine.read() as conn:
        def n(table: sa.Table, *where: Any) -> int:
            return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()

        # ordering: one order per OrderPlaced, and its status agrees with the log
        assert n(orders) == len(placed) == by_type["OrderPlaced"]
        # store: one ticket per PaymentApproved, announced exactly once
        assert n(store_orders) == by_type["PaymentApproved"] == by_type["StoreOrderReceived"]
        # delivery: one delivery per CookingFinished, requested exactly once
        assert n(deliveries) == by_type["CookingFinished"] == by_type["DeliveryRequested"]
        # payment: one refund event per refunded payment, one payment row per settled order
        assert n(payments, payments.c.status == "REFUNDED") == by_type["PaymentRefunded"]
        assert n(payments) == by_type["PaymentApproved"] + by_type["PaymentDeclined"]
        assert by_type["PaymentRefunded"] == by_type["OrderCancelled"]
        # status view: one row per order, one timeline entry per (non-notification) event
        assert n(order_status) == len(placed)
        timeline = conn.execute(sa.select(order_timeline.c.event_id)).scalars().all()
        expected_timeline = [e.id for e in log if e.event_type != "NotificationSent"]
        assert sorted(timeline) == expected_timeline
        view = {r.order_id: r.status for r in conn.execute(sa.select(order_status))}
        own = {r.id: r.status for r in conn.execute(sa.select(orders))}
        # notifications: one per (event, recipient), and one customer notification per status change
        notes = conn.execute(sa.select(notifications)).all()
    keys = [(r.event_id, r.recipient_type, r.recipient_id) for r in notes]
    assert len(keys) == len(set(keys))
    replayed = replay(log)
    assert view == {order_id: state.status.value for order_id, state in replayed.items()}
    changes = status_changes(log, notices=True)
    customer_notes = sorted((r.event_id, r.status) for r in notes if r.recipient_type == "customer")
    assert customer_notes == sorted((eid, s.value) for ch in changes.values() for eid, s in ch)
    assert by_type["NotificationSent"] == len({r.event_id for r in notes})
    # the ordering aggregate settles where the log says (it may only differ while a saga is open)
    for order_id, own_status in own.items():
        assert own_status == view[order_id], (order_id, own_status, view[order_id])
    # and the product's own check (deliverycli doctor --check) agrees
    problems = engine.ops.check_invariants().problems
    assert problems == [], [str(p) for p in problems]
    return {"events": len(log), "orders": len(placed), "by_type": by_type, "view": view}


def demo_engine(db: str, **overrides: Any) -> Any:
    """An initialised demo database and an open engine on it (as tests/conftest.py's open_demo_engine)."""
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.settings import load_settings

    engine, _ = Engine.initialise(load_settings(db=db, **overrides), demo=True)
    return engine
