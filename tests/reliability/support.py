"""Helpers for the reliability tests: a demo database with orders in every status, a dump of every
row of every table (ours and the payment provider's), and the invariant check as an assertion."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from deliverycli.engine import invariants, storage
from deliverycli.engine.bootstrap import Engine, gateway_url
from deliverycli.settings import load_settings


def open_engine(db: str, catch_up: bool = True, **overrides: Any) -> Engine:
    return Engine.open(load_settings(db=db, **overrides), catch_up=catch_up)


def downgrade(db: str, revision: str) -> None:
    """Take the database's schema back to ``revision`` with the migrations' own downgrades, as an
    older deliverycli left it (rows of what that schema has are kept)."""
    from alembic import command

    engine = storage.make_engine(storage.database_url(db))
    try:
        config = storage.alembic_config()
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":  # batch mode recreates tables that others refer to
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            with conn.begin():
                config.attributes["connection"] = conn
                command.downgrade(config, revision)
    finally:
        engine.dispose()


def demo(db: str, **overrides: Any) -> Engine:
    engine, _ = Engine.initialise(load_settings(db=db, **overrides), demo=True)
    return engine


def assert_invariants(engine: Engine) -> invariants.CheckResult:
    result = engine.ops.check_invariants()
    assert result.problems == [], [str(p) for p in result.problems[:20]]
    return result


def orders_in_every_status(engine: Engine) -> dict[str, str]:
    """One order in each status a command can meet, named by that status."""
    o: dict[str, str] = {}
    place = engine.orders.place
    o["PAID"] = place("alice", "pizza-palace", ["margherita"], "1 Paid St").id
    o["COOKING"] = place("bob", "seoul-bbq", ["bulgogi"], "2 Cooking St").id
    engine.store.accept(o["COOKING"], "seoul-bbq")
    o["READY_FOR_PICKUP"] = place("carol", "green-bowl", ["poke"], "3 Ready St").id
    engine.store.accept(o["READY_FOR_PICKUP"], "green-bowl")
    engine.store.ready(o["READY_FOR_PICKUP"], "green-bowl")
    o["DELIVERING"] = place("dave", "pizza-palace", ["cola:2"], "4 Road St").id
    engine.store.accept(o["DELIVERING"], "pizza-palace")
    engine.store.ready(o["DELIVERING"], "pizza-palace")
    engine.deliveries.pick_up(o["DELIVERING"], "rider-kim")
    o["DELIVERED"] = place("erin", "seoul-bbq", ["japchae"], "5 Door St").id
    engine.store.accept(o["DELIVERED"], "seoul-bbq")
    engine.store.ready(o["DELIVERED"], "seoul-bbq")
    engine.deliveries.pick_up(o["DELIVERED"], "rider-lee")
    engine.deliveries.complete(o["DELIVERED"], "rider-lee")
    o["CANCELLED"] = place("alice", "green-bowl", ["caesar"], "6 Gone St").id
    engine.orders.cancel(o["CANCELLED"], "alice")
    from deliverycli.engine.errors import PaymentFailed

    try:
        place("bob", "pizza-palace", ["cola"], "7 Broke St", card="4000000000000002")
    except PaymentFailed as failure:
        o["REJECTED"] = failure.order_id or ""
    assert engine.orders.status(o["DELIVERED"]).status == "DELIVERED" and engine.orders.status(o["CANCELLED"]).status == "CANCELLED"
    return o


def _dump_engine(db: sa.Engine) -> dict[str, list[tuple[str, ...]]]:
    with db.connect() as conn, conn.execution_options(readonly=True).begin():
        tables = sorted(sa.inspect(conn).get_table_names())
        meta = sa.MetaData()
        out: dict[str, list[tuple[str, ...]]] = {}
        for name in tables:
            table = sa.Table(name, meta, autoload_with=conn)
            rows = conn.execute(sa.select(table)).all()
            out[name] = sorted(tuple(repr(v) for v in row) for row in rows)
        return out


def dump(db: str) -> dict[str, Any]:
    """Every row of every table of the database and of the simulated provider's ledger."""
    url = storage.database_url(db)
    main = storage.make_engine(url)
    try:
        result = {"main": _dump_engine(main)}
    finally:
        main.dispose()
    gw = gateway_url(url)
    if gw != url:
        ledger = storage.make_engine(gw)
        try:
            result["gateway"] = _dump_engine(ledger)
        finally:
            ledger.dispose()
    return result


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes = []
    for part in sorted(set(before) | set(after)):
        b, a = before.get(part, {}), after.get(part, {})
        for table in sorted(set(b) | set(a)):
            if b.get(table) != a.get(table):
                gone = set(b.get(table, [])) - set(a.get(table, []))
                new = set(a.get(table, [])) - set(b.get(table, []))
                changes.append(f"{part}.{table}: -{sorted(gone)[:3]} +{sorted(new)[:3]}")
    return changes
