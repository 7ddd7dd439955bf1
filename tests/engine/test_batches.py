"""Batch handlers are an optimisation only: a backlog applied in batches leaves exactly the tables
the per-event handlers leave, and a batch that fails falls back to them event by event."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from deliverycli.engine import counters, delivery, notification, status, store
from deliverycli.engine.ordering import repository as ordering
from deliverycli.engine.payment import records as payment
from deliverycli.engine.messagebus import Subscriber
from deliverycli.engine.simulation import Simulation, SimulationOptions, start_run
from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings

from conftest import BACKENDS, _postgres_schema_url, open_demo_engine
from .support import check_invariants, events_of

OPTIONS = SimulationOptions(orders=120, cancel_rate=0.2, reject_rate=0.1, payment_failure_rate=0.05, seed=11)


def _outcome(engine: Any) -> dict[str, Any]:
    """What the run left, without ids of events or timestamps (those differ between any two runs)."""
    def table(t: sa.Table, *columns: str) -> list[tuple[Any, ...]]:
        with engine.read() as conn:
            return sorted(tuple(r) for r in conn.execute(sa.select(*(t.c[c] for c in columns))))

    per_order: dict[str, list[str]] = defaultdict(list)
    for event in events_of(engine):
        per_order[event.order_id].append(event.event_type)
    with engine.read() as conn:
        timeline = sorted(conn.execute(sa.select(status.order_timeline.c.order_id, status.order_timeline.c.event_type, status.order_timeline.c.status)).all())
        sent = sorted(conn.execute(sa.select(notification.notifications.c.order_id, notification.notifications.c.recipient_type, notification.notifications.c.status)).all())
        stored_counts = sorted(counters.stored(conn).items())
    return {
        "orders": table(ordering.orders, "id", "status", "resume_status", "reason", "total"),
        "payments": table(payment.payments, "order_id", "status", "amount", "reason"),
        "tickets": table(store.store_orders, "order_id", "store_id", "status", "reason", "total"),
        "deliveries": table(delivery.deliveries, "order_id", "status", "rider_id"),
        "status_view": table(status.order_status, "order_id", "status", "resume_status", "rider_id", "reason"),
        "events_per_order": dict(per_order),
        "timeline": timeline,
        "notifications": sent,
        "counters": stored_counts,
    }


def _simulate(db: str, batches: bool) -> dict[str, Any]:
    open_demo_engine(db).close()
    one_by_one = lambda subscribers: [dataclasses.replace(s, batch=None) for s in subscribers]  # noqa: E731
    settings = load_settings(db=db, payment_failure_rate=OPTIONS.payment_failure_rate, payment_seed=OPTIONS.seed)
    engine = Engine.open(settings, subscribers=None if batches else one_by_one)
    try:
        assert any(s.batch for s in engine.bus.subscribers) is batches
        Simulation(engine, start_run(engine, OPTIONS), OPTIONS).run()
        check_invariants(engine)
        return _outcome(engine)
    finally:
        engine.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_subscribers_leave_what_the_per_event_handlers_leave(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        batched = _simulate(str(tmp_path / "batched.db"), batches=True)
        one_by_one = _simulate(str(tmp_path / "one-by-one.db"), batches=False)
    else:
        schemas = _postgres_schema_url(), _postgres_schema_url()
        try:
            batched = _simulate(next(schemas[0]), batches=True)
            one_by_one = _simulate(next(schemas[1]), batches=False)
        finally:
            for schema in schemas:
                schema.close()
    statuses = {status for _, status, *_ in batched["orders"]}
    assert {"CONFIRMED", "CANCELLED", "REJECTED"} <= statuses  # the run went down every path
    for part in batched:
        assert batched[part] == one_by_one[part], part


def test_a_failing_batch_is_replayed_event_by_event_and_only_the_bad_event_is_parked(engine: Any, reopen: Any) -> None:
    """One order's CookingFinished breaks the delivery subscriber (a bug tied to that event): the
    other orders of its batch still get their deliveries, and exactly that event is parked."""
    shops = [engine.orders.place("alice", "pizza-palace", ["margherita"], f"{n} Test St").id for n in range(4)]
    bad = shops[2]
    for oid in shops:
        engine.store.accept(oid, "pizza-palace")
    batches: list[list[str]] = []

    def broken_batch(events: list[Any], uow: Any) -> None:
        batches.append([e.order_id for e in events])
        if any(e.order_id == bad for e in events):
            raise ValueError("no rider zone for this address")
        delivery.apply_batch(events, uow)

    def broken_handler(event: Any, uow: Any) -> None:
        if event.order_id == bad:
            raise ValueError("no rider zone for this address")
        delivery.HANDLERS["CookingFinished"](event, uow)

    engine = reopen(
        subscribers=lambda subs: [Subscriber(s.name, {"CookingFinished": broken_handler}, broken_batch) if s.name == "delivery" else s for s in subs]
    )
    with engine.deferred():  # the four CookingFinished reach the subscriber together
        for oid in shops:
            engine.store.ready(oid, "pizza-palace")

    assert batches[0] == shops  # it was one batch, and it failed
    with engine.read() as conn:
        opened = set(conn.execute(sa.select(delivery.deliveries.c.order_id)).scalars())
    assert opened == set(shops) - {bad}
    (dead,) = engine.ops.dead_letters()
    assert (dead.subscriber, dead.order_id, dead.event_type) == ("delivery", bad, "CookingFinished")
    assert "no rider zone" in dead.error
    assert sorted(e.order_id for e in events_of(engine, types=["DeliveryRequested"])) == sorted(set(shops) - {bad})
    assert set(engine.ops.lag().values()) == {0}
