"""`deliverycli init` upgrades a database made by an older schema in place, losing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from deliverycli.engine import catalog, storage
from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.errors import REMEDY_INIT, DatabaseUnavailable
from deliverycli.settings import load_settings
from tests.reliability.support import downgrade


@contextmanager
def connected(path: Path) -> Iterator[sa.Connection]:
    """A connection to the SQLite file at ``path``, for looking at what a downgrade left."""
    db = storage.make_engine(storage.database_url(str(path)))
    try:
        with db.connect() as conn:
            yield conn
    finally:
        db.dispose()


def _migrate_to(db: sa.Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(storage.__file__).with_name("migrations")))
    with db.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()


def test_a_0001_database_with_orders_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = storage.database_url(str(path))
    storage.create_sqlite_file(url)
    old = storage.make_engine(url)
    _migrate_to(old, "0001")
    # What a 0001-era install held: reference data, and an order with its events.
    with old.begin() as conn:
        catalog.seed_demo(conn)
        conn.execute(sa.text(
            "INSERT INTO orders (id, customer_id, store_id, address, total, currency, status, placed_at, updated_at, version) "
            "VALUES ('ord-000001', 'alice', 'pizza-palace', '1 Old St', 18000, 'KRW', 'CONFIRMED', '2026-01-01 10:00:00', '2026-01-01 11:00:00', 7)"
        ))
        conn.execute(sa.text(
            "INSERT INTO events (event_type, schema_version, order_id, actor, context, occurred_at, payload) "
            "VALUES ('OrderPlaced', 1, 'ord-000001', 'customer:alice', 'ordering', '2026-01-01 10:00:00', '{}')"
        ))
        conn.execute(sa.text("UPDATE order_numbers SET last = 1"))
    old.dispose()

    settings = load_settings(db=str(path))
    with pytest.raises(DatabaseUnavailable) as refused:  # the CLI words it: tests/reliability/test_database_unavailable.py
        Engine.open(settings, catch_up=False)
    assert refused.value.remedy == REMEDY_INIT

    engine, report = Engine.initialise(settings)
    with engine:
        assert report.schema_before == "0001" and report.schema_ == storage.SCHEMA_HEAD
        assert storage.schema_version(engine.db) == storage.SCHEMA_HEAD
        with engine.read() as conn:
            row = conn.execute(sa.text("SELECT id, status, total, idempotency_key FROM orders")).one()
            assert tuple(row) == ("ord-000001", "CONFIRMED", 18000, None)
            assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 1
        assert len(engine.catalog.stores()) == 3
        # and it keeps working: the next order gets the next number
        placed = engine.orders.place("bob", "seoul-bbq", ["bulgogi"], "2 New St", idempotency_key="after-upgrade")
        assert placed.id == "ord-000002" and placed.status == "PAID"


def test_a_0004_database_gains_the_tokens_table_and_keeps_its_orders(tmp_path: Path) -> None:
    """Revision 0005 (api_tokens) upgrades a database of the previous release in place."""
    path = tmp_path / "before-tokens.db"
    settings = load_settings(db=str(path))
    engine, _ = Engine.initialise(settings, demo=True)
    with engine:
        placed = engine.orders.place("alice", "pizza-palace", ["cola"], "1 Old St")
    downgrade(str(path), "0004")  # back to 0004 (0005's downgrade), as the previous release left it, orders and all
    with connected(path) as conn:
        assert not sa.inspect(conn).has_table("api_tokens")

    engine, report = Engine.initialise(settings)
    with engine:
        assert (report.schema_before, report.schema_) == ("0004", storage.SCHEMA_HEAD)
        assert engine.orders.get(placed.id).status == "PAID"
        token = engine.tokens.create("customer", "alice")
        actor = engine.tokens.authenticate(token.token)
        assert actor is not None and actor.actor_id == "alice"


def test_a_0005_database_gains_the_workers_table_and_keeps_its_orders(tmp_path: Path) -> None:
    """Revision 0006 (the worker registry) upgrades a database of the previous release in place."""
    path = tmp_path / "before-workers.db"
    settings = load_settings(db=str(path))
    engine, _ = Engine.initialise(settings, demo=True)
    with engine:
        placed = engine.orders.place("alice", "pizza-palace", ["cola"], "1 Old St")
    downgrade(str(path), "0005")  # back to 0005, as the previous release left it
    with connected(path) as conn:
        assert not sa.inspect(conn).has_table("workers")

    engine, report = Engine.initialise(settings)
    with engine:
        assert (report.schema_before, report.schema_) == ("0005", storage.SCHEMA_HEAD)
        assert engine.orders.get(placed.id).status == "PAID"
        from deliverycli.engine.worker import Worker

        run = Worker(engine).run(once=True)  # registers, drains, deregisters on the new table
        assert run.stopped_by == "once" and engine.ops.workers() == []


def test_a_0005_database_moves_tickets_a_rider_took_past_ready(tmp_path: Path) -> None:
    """Revision 0009: the tickets an older release left READY although a rider picked the food up
    (or delivered it) become PICKED_UP (or DONE); the rest stay as they are, and nothing is lost."""
    path = tmp_path / "before-store-controls.db"
    settings = load_settings(db=str(path))
    engine, _ = Engine.initialise(settings, demo=True)
    with engine:
        ids = [engine.orders.place("alice", "pizza-palace", ["cola"], "1 Old St").id for _ in range(4)]
        waiting, taken, delivered, new = ids
        for oid in (waiting, taken, delivered):
            engine.store.accept(oid, "pizza-palace")
            engine.store.ready(oid, "pizza-palace")
        engine.deliveries.pick_up(taken, "rider-kim")
        engine.deliveries.pick_up(delivered, "rider-lee")
        engine.deliveries.complete(delivered, "rider-lee")
    downgrade(str(path), "0005")  # back to 0005, as the previous release left it: every cooked ticket READY
    with connected(path) as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM store_orders WHERE status = 'READY'")).scalar_one() == 3

    engine, report = Engine.initialise(settings)
    with engine:
        assert (report.schema_before, report.schema_) == ("0005", storage.SCHEMA_HEAD)
        statuses = {t.id: t.status for t in engine.store.queue("pizza-palace")}
        assert statuses == {waiting: "READY", taken: "PICKED_UP", delivered: "DONE", new: "NEW"}
        assert not engine.catalog.store("pizza-palace").paused and engine.catalog.store("pizza-palace").prep_min == 15
        # an older release's events carry no estimate; these do (made by this one): `views rebuild` takes them in
        engine.ops.rebuild_views()
        assert engine.ops.check_invariants().problems == []
        # and the store now follows the deliveries itself
        engine.deliveries.pick_up(waiting, "rider-park")
        assert {t.id: t.status for t in engine.store.queue("pizza-palace")}[waiting] == "PICKED_UP"


def test_a_0005_database_gains_counters_that_count_what_it_holds(tmp_path: Path) -> None:
    """Revision 0010 (status_counts) backfills the counters from the rows already there."""
    from deliverycli.engine import counters

    path = tmp_path / "before-counters.db"
    settings = load_settings(db=str(path))
    engine, _ = Engine.initialise(settings, demo=True)
    with engine:
        ids = [engine.orders.place(("alice", "bob")[n % 2], "pizza-palace", ["cola"], f"{n} Old St").id for n in range(5)]
        engine.store.accept(ids[0], "pizza-palace")
        engine.store.reject(ids[1], "pizza-palace", "closed")
        expected = engine.ops.overview().orders_by_status
    downgrade(str(path), "0005")  # back to 0005, as the previous release left it
    with connected(path) as conn:
        assert not sa.inspect(conn).has_table("status_counts")

    engine, report = Engine.initialise(settings)
    with engine:
        assert (report.schema_before, report.schema_) == ("0005", storage.SCHEMA_HEAD)
        assert engine.ops.overview().orders_by_status == expected == {"PAID": 3, "COOKING": 1, "CANCELLED": 1}
        assert engine.orders.count(customer_id="alice") == 3 and engine.orders.count(customer_id="bob", status="PAID") == 1
        assert engine.store.counts("pizza-palace") == {s: 0 for s in engine.store.counts("pizza-palace")} | {"NEW": 3, "COOKING": 1, "REJECTED": 1}
        with engine.read() as conn:
            assert counters.stored(conn)[(counters.STORE, "pizza-palace", "PAID")] == 3
        # the accept above (made by this release) carries an estimate the downgrade's dropped column lost
        engine.ops.rebuild_views()
        assert engine.ops.check_invariants().problems == []
