"""Schema migrations (SPEC §7, readiness): the code's expected revision is the Alembic head, the
migrations build exactly the tables the code declares, initialise is idempotent, and the SQLite
files are private to their owner."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from deliverycli.engine import schema, storage
from deliverycli.engine.bootstrap import Engine, gateway_url
from deliverycli.engine.errors import REMEDY_INIT, REMEDY_UPGRADE, DatabaseUnavailable, NotFound
from deliverycli.settings import load_settings

from .support import count, demo_engine

MIGRATIONS = Path(storage.__file__).with_name("migrations")


def script_directory() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_schema_head_is_the_alembic_head() -> None:
    scripts = script_directory()
    heads = scripts.get_heads()
    assert heads == [storage.SCHEMA_HEAD], "one linear history whose head the code expects"
    # every revision reaches the base: no orphan branch
    assert [r.revision for r in scripts.walk_revisions()][-1] is not None
    assert all(r.down_revision is None or scripts.get_revision(r.down_revision) for r in scripts.walk_revisions())


def _snapshot(engine: Engine) -> dict[str, Any]:
    with engine.db.connect() as conn:
        inspector = sa.inspect(conn)
        tables = {
            name: sorted((c["name"], str(c["type"])) for c in inspector.get_columns(name)) for name in inspector.get_table_names()
        }
        counts = {name: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one() for name in tables}
    return {"tables": tables, "counts": counts}


def test_migrations_build_exactly_the_declared_schema(db_url: str) -> None:
    engine = demo_engine(db_url)
    try:
        with engine.db.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), schema.metadata)
        assert diffs == []
        assert storage.schema_version(engine.db) == storage.SCHEMA_HEAD
    finally:
        engine.close()


def test_initialise_twice_is_a_no_op(db_url: str) -> None:
    settings = load_settings(db=db_url)
    first, info = Engine.initialise(settings, demo=True)
    try:
        assert info.schema_before is None and info.schema_ == storage.SCHEMA_HEAD
        assert info.demo == {"stores": 3, "menu_items": 11, "customers": 5, "riders": 3}
        oid = first.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St").id
        before = _snapshot(first)
    finally:
        first.close()
    second, info = Engine.initialise(settings, demo=True)
    try:
        assert info.schema_before == storage.SCHEMA_HEAD and info.schema_ == storage.SCHEMA_HEAD
        assert info.demo == {"stores": 0, "menu_items": 0, "customers": 0, "riders": 0}
        assert _snapshot(second) == before  # same tables, same columns, same rows: nothing lost or added
        assert second.orders.get(oid).status == "PAID"
        assert second.orders.place("bob", "pizza-palace", ["cola"], "2 Test St").id == "ord-000002"
    finally:
        second.close()


def test_sqlite_files_are_created_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "private" / "nested" / "orders.db"
    engine = demo_engine(str(db))
    try:
        engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
        gateway_file = Path(gateway_url(engine.url).database)
    finally:
        engine.close()
    assert gateway_file != db and gateway_file.exists()
    for path in (db, gateway_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_opening_an_uninitialised_or_outdated_database_is_refused(tmp_path: Path, db_url: str) -> None:
    if "://" not in db_url:
        with pytest.raises(NotFound):
            Engine.open(load_settings(db=str(tmp_path / "missing.db")))
        assert not (tmp_path / "missing.db").exists()
    else:
        with pytest.raises(NotFound, match="not initialised"):
            Engine.open(load_settings(db=db_url))
    engine = demo_engine(db_url)
    with engine.db.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    engine.close()
    with pytest.raises(DatabaseUnavailable) as outdated:
        Engine.open(load_settings(db=db_url))
    assert outdated.value.remedy == REMEDY_INIT and outdated.value.exit_code == 7
    # a revision this code does not know was written by a newer deliverycli: init cannot help
    raw = storage.make_engine(storage.database_url(db_url))
    with raw.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    raw.dispose()
    for attempt in (lambda: Engine.open(load_settings(db=db_url)), lambda: Engine.initialise(load_settings(db=db_url))):
        with pytest.raises(DatabaseUnavailable, match="newer deliverycli") as newer:
            attempt()
        assert newer.value.remedy == REMEDY_UPGRADE


def test_a_fresh_schema_has_the_order_counter_and_no_events(db_url: str) -> None:
    engine = demo_engine(db_url)
    try:
        assert engine.events.head() == 0
        from deliverycli.engine.ordering import repository as ordering

        assert count(engine, ordering.order_numbers) == 1
        assert engine.orders.place("alice", "pizza-palace", ["cola"], "1 Test St").id == "ord-000001"
    finally:
        engine.close()
