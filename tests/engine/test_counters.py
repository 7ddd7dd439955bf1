"""Counts that do not scan (engine/counters.py): after any sequence of commands, batched or not,
after a rebuild, after a crash in the middle of a drain and under concurrent writers, every counter
equals a recount of the rows it counts, and the queries that read them agree with a scan."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deliverycli.engine import counters, status, store
from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.errors import DeliveryError, PaymentFailed
from deliverycli.engine.messagebus import Subscriber
from deliverycli.engine.payment import simulated

from conftest import BACKENDS, _postgres_schema_url, open_demo_engine
from .support import check_invariants

CATALOG = {"stores", "menu_items", "customers", "riders", "alembic_version", "meta"}
STORES = {"pizza-palace": "margherita", "seoul-bbq": "bulgogi"}
CUSTOMERS = ("alice", "bob", "carol")
DECLINE = "4000000000000002"


def recount(engine: Any) -> dict[counters.Key, int]:
    """Every counter as a scan of the rows computes it (zero counts left out)."""
    with engine.read() as conn:
        view = conn.execute(sa.select(status.order_status.c.customer_id, status.order_status.c.store_id, status.order_status.c.status)).all()
        tickets = conn.execute(sa.select(store.store_orders.c.store_id, store.store_orders.c.status)).all()
    want = counters.recount_orders(view) + counters.recount_tickets(tickets)
    return {k: n for k, n in want.items() if n}


def stored(engine: Any) -> dict[counters.Key, int]:
    with engine.read() as conn:
        return counters.stored(conn)


def assert_counts(engine: Any) -> None:
    assert stored(engine) == recount(engine)
    with engine.read() as conn:
        scanned = dict(conn.execute(sa.select(status.order_status.c.status, sa.func.count()).group_by(status.order_status.c.status)).all())
    assert engine.ops.overview().orders_by_status == scanned
    for customer in CUSTOMERS:
        assert engine.orders.count(customer_id=customer) == len(engine.orders.list(customer_id=customer, limit=10_000))
    for store_id in STORES:
        with engine.read() as conn:
            tickets = Counter(conn.execute(sa.select(store.store_orders.c.status).where(store.store_orders.c.store_id == store_id)).scalars())
        assert {s: n for s, n in engine.store.counts(store_id).items() if n} == dict(tickets)
        assert engine.orders.count(store_id=store_id, status="PAID") == len(engine.orders.list(store_id=store_id, status="PAID", limit=10_000))


# -- random sequences of commands -----------------------------------------------------------------

STEPS = st.lists(
    st.tuples(st.sampled_from(["place", "decline", "accept", "reject", "ready", "cancel", "pickup", "complete", "confirm"]), st.integers(0, 30)),
    min_size=1, max_size=14,
)


def _step(engine: Engine, orders: list[tuple[str, str, str]], action: str, n: int) -> None:
    if action in ("place", "decline"):
        store_id = list(STORES)[n % 2]
        customer = CUSTOMERS[n % 3]
        if action == "decline":
            with pytest.raises(PaymentFailed):  # the order is placed, then rejected: it counts as REJECTED
                engine.orders.place(customer, store_id, [STORES[store_id]], "1 Count St", DECLINE)
        else:
            orders.append((engine.orders.place(customer, store_id, [STORES[store_id]], "1 Count St").id, customer, store_id))
        return
    if not orders:
        return
    order_id, customer, store_id = orders[n % len(orders)]
    call = {
        "accept": lambda: engine.store.accept(order_id, store_id),
        "reject": lambda: engine.store.reject(order_id, store_id, "out of dough"),
        "ready": lambda: engine.store.ready(order_id, store_id),
        "cancel": lambda: engine.orders.cancel(order_id, customer),
        "pickup": lambda: engine.deliveries.pick_up(order_id, "rider-kim"),
        "complete": lambda: engine.deliveries.complete(order_id, "rider-kim"),
        "confirm": lambda: engine.orders.confirm(order_id, customer),
    }[action]
    try:
        call()
    except (DeliveryError, PaymentFailed):
        pass  # refused (wrong state, declined card): a refusal changes no counter either


def _reset(engine: Engine, tables: list[str]) -> None:
    with engine.db.begin() as conn:
        for name in tables:
            conn.exec_driver_sql("UPDATE order_numbers SET last = 0" if name == "order_numbers" else f"DELETE FROM {name}")
    gateway = engine.gateway
    assert isinstance(gateway, simulated.SimulatedGateway)
    with gateway.db.begin() as conn:
        simulated.gateway_metadata.create_all(conn, checkfirst=True)
        conn.execute(simulated.gateway_ledger.delete())
    engine.bus.forget()


def _random_sequences(db: str, examples: int) -> None:
    open_demo_engine(db).close()
    from deliverycli.settings import load_settings

    engine = Engine.open(load_settings(db=db, retry_backoff_s=0.001), catch_up=False)
    with engine.read() as conn:
        tables = sorted(set(sa.inspect(conn).get_table_names()) - CATALOG)
    assert "status_counts" in tables

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(steps=STEPS, deferred=st.lists(st.booleans(), min_size=14, max_size=14))
    def run(steps: list[tuple[str, int]], deferred: list[bool]) -> None:
        _reset(engine, tables)
        orders: list[tuple[str, str, str]] = []
        for (action, n), defer in zip(steps, deferred):
            if defer:  # several commands' events reach the subscribers as one batch
                with engine.deferred():
                    _step(engine, orders, action, n)
                    _step(engine, orders, "accept", n + 1)
            else:
                _step(engine, orders, action, n)
        assert_counts(engine)
        check_invariants(engine)

    try:
        run()
    finally:
        engine.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_counters_equal_a_recount_after_random_commands(backend: str, tmp_path: Any) -> None:
    if backend == "sqlite":
        _random_sequences(str(tmp_path / "counts.db"), examples=15)
    else:
        schema = _postgres_schema_url()
        try:
            _random_sequences(next(schema), examples=6)
        finally:
            schema.close()


# -- rebuild, crash, doctor ---------------------------------------------------------------------------


def _busy(engine: Any) -> list[str]:
    """Orders in many statuses, at both stores, for three customers."""
    ids = []
    for n in range(12):
        store_id = list(STORES)[n % 2]
        order = engine.orders.place(CUSTOMERS[n % 3], store_id, [STORES[store_id]], f"{n} Busy St").id
        ids.append(order)
        if n % 4 >= 1:
            engine.store.accept(order, store_id)
        if n % 4 >= 2:
            engine.store.ready(order, store_id)
        if n % 4 == 3:
            engine.deliveries.pick_up(order, "rider-kim")
    engine.store.reject(ids[4], "pizza-palace", "no cheese")
    engine.orders.cancel(ids[8], CUSTOMERS[8 % 3])
    return ids


@pytest.mark.parametrize("mode", ["atomic", "batched"])
def test_a_rebuild_recounts_the_status_view_and_leaves_the_store_counts(engine: Any, mode: str) -> None:
    _busy(engine)
    before = stored(engine)
    with engine.db.begin() as conn:  # the view's counters drift (a bug, or a hand edit): the rebuild puts them right
        conn.execute(counters.status_counts.update().where(counters.status_counts.c.scope == counters.ORDERS).values(n=999))
    assert any(p.check == "counter" for p in engine.ops.check_invariants().problems)
    engine.ops.rebuild_views(mode=mode)
    assert stored(engine) == before == recount(engine)
    assert_counts(engine)
    check_invariants(engine)


def test_the_batched_rebuild_keeps_counts_right_at_every_batch(engine: Any) -> None:
    from deliverycli.engine import rebuild

    _busy(engine)
    seen = []

    def progress(done: int, total: int) -> None:
        with engine.read() as conn:  # after each committed batch: the counters count the rows written so far
            view = conn.execute(sa.select(status.order_status.c.customer_id, status.order_status.c.store_id, status.order_status.c.status)).all()
            have = {k: n for k, n in counters.stored(conn).items() if k[0] in counters.STATUS_VIEW_SCOPES}
        seen.append(len(view))
        assert have == {k: n for k, n in counters.recount_orders(view).items() if n}

    rebuild.rebuild_status_view(engine.bus, mode="batched", batch=7, progress=progress)
    assert len(set(seen)) > 2  # it went through several batches
    check_invariants(engine)


class Crash(BaseException):
    """The process dies here: nothing after it runs, the transaction is never committed."""


def test_a_crash_in_the_middle_of_a_drain_leaves_the_counters_as_the_rows(engine: Any, reopen: Any) -> None:
    _busy(engine)
    crashes: list[str] = []

    def crashing(name: str, real_batch: Any, real_handlers: dict[str, Any]) -> Subscriber:
        def batch(events: list[Any], uow: Any) -> None:
            real_batch(events, uow)  # the rows and the counts are written in the transaction ...
            crashes.append(name)
            raise Crash  # ... which dies before its commit

        def one(event: Any, uow: Any) -> None:
            real_handlers[event.event_type](event, uow)
            crashes.append(name)
            raise Crash

        return Subscriber(name, dict.fromkeys(real_handlers, one), batch)

    crashy = reopen(subscribers=lambda subs: [crashing(s.name, s.batch, dict(s.handlers)) if s.name in ("store", "status") else s for s in subs])
    with pytest.raises(Crash):
        with crashy.deferred():
            for n in range(3):
                crashy.orders.place("alice", "pizza-palace", ["margherita"], f"{n} Crash St")
    assert len(crashes) == 1
    assert stored(engine) == recount(engine)  # nothing of the dead batch stayed
    restarted = reopen()
    restarted.bus.drain()  # the next process catches up
    assert_counts(restarted)
    check_invariants(restarted)


def test_doctor_names_a_counter_that_drifted(engine: Any) -> None:
    _busy(engine)
    check_invariants(engine)
    with engine.db.begin() as conn:
        conn.execute(
            counters.status_counts.update()
            .where(counters.status_counts.c.scope == counters.TICKET, counters.status_counts.c.key == "seoul-bbq", counters.status_counts.c.status == "COOKING")
            .values(n=counters.status_counts.c.n + 1)
        )
    problems = [p for p in engine.ops.check_invariants().problems if p.check == "counter"]
    assert len(problems) == 1 and "seoul-bbq" in problems[0].message and "COOKING" in problems[0].message


# -- concurrency --------------------------------------------------------------------------------------


def test_concurrent_increments_are_never_lost(engine: Any, reopen: Any) -> None:
    """Writers in several engines (as several processes) move the same counters at once: every
    increment lands (n = n + delta under the row lock), and nothing deadlocks."""
    writers, rounds = 4, 24
    engines = [reopen() for _ in range(writers)]
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(e: Engine, w: int) -> None:
        try:
            start.wait()
            for i in range(rounds):
                with e.bus.unit_of_work(f"test:{w}") as uow:
                    uow.count(("test", "shared", "A"), +1)
                    uow.count(("test", "shared", "B"), +2)
                    uow.count(("test", f"own-{w}", "A"), +1)
                    uow.count(("test", "shared", "C"), -1 if i % 2 else +1)
                    uow.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(e, w)) for w, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with engine.read() as conn:
        got = counters.stored(conn, ["test"])
    assert got[("test", "shared", "A")] == writers * rounds
    assert got[("test", "shared", "B")] == 2 * writers * rounds
    assert ("test", "shared", "C") not in got  # +1 and -1 in turn: back to zero
    assert all(got[("test", f"own-{w}", "A")] == rounds for w in range(writers))


def test_concurrent_store_owners_keep_the_ticket_counts(engine: Any, reopen: Any) -> None:
    """Two owners of the same store (two engines) accept and mark ready different orders at once."""
    orders = [engine.orders.place(CUSTOMERS[n % 3], "pizza-palace", ["margherita"], f"{n} Rush St").id for n in range(16)]
    owners = [reopen(), reopen()]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(e: Engine, mine: list[str]) -> None:
        try:
            start.wait()
            for order in mine:
                e.store.accept(order, "pizza-palace")
                e.store.ready(order, "pizza-palace")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(owners[i], orders[i::2])) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    engine.bus.drain()
    assert engine.store.counts("pizza-palace")["READY"] == 16
    assert engine.store.counts("pizza-palace")["NEW"] == 0
    assert_counts(engine)
    check_invariants(engine)
