"""Units of work on SQLite reuse one kept connection; a nested or concurrent one gets its own, and
closing the engine returns every connection to the pool."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

from conftest import open_demo_engine
from deliverycli.engine import catalog
from deliverycli.engine.unit_of_work import Connections, UnitOfWork


def _driver(uow: UnitOfWork) -> Any:
    return uow.conn.connection.driver_connection


def test_consecutive_units_of_work_share_the_kept_connection(sqlite_db: str) -> None:
    engine = open_demo_engine(sqlite_db)
    try:
        connections = Connections(engine.db)
        with UnitOfWork(connections.connect, "test") as first:
            first_driver = _driver(first)
            first.commit()
        with UnitOfWork(connections.connect, "test") as second:
            assert _driver(second) is first_driver
            second.commit()
        connections.close()
        assert engine.db.pool.checkedout() == 0
    finally:
        engine.close()


def test_a_nested_unit_of_work_gets_its_own_connection_and_both_commit(sqlite_db: str) -> None:
    engine = open_demo_engine(sqlite_db, busy_timeout_s=0.2)
    try:
        connections = Connections(engine.db)
        with UnitOfWork(connections.connect, "outer") as outer:
            outer.conn.execute(catalog.riders.insert().values(id="r-outer", name="Outer", vehicle="bike"))
            outer.commit()
            # The outer transaction is over, its connection still held: the inner one must not reuse it.
            with UnitOfWork(connections.connect, "inner") as inner:
                assert _driver(inner) is not _driver(outer)
                inner.conn.execute(catalog.riders.insert().values(id="r-inner", name="Inner", vehicle="bike"))
                inner.commit()
        with engine.read() as conn:
            ids = set(conn.execute(sa.select(catalog.riders.c.id)).scalars())
        assert {"r-outer", "r-inner"} <= ids
        connections.close()
        assert engine.db.pool.checkedout() == 0
    finally:
        engine.close()


def test_threads_never_share_a_connection_at_the_same_time(sqlite_db: str) -> None:
    engine = open_demo_engine(sqlite_db)
    try:
        connections = Connections(engine.db)
        in_use: set[int] = set()
        clashes: list[int] = []
        guard = threading.Lock()

        def work(n: int) -> None:
            for i in range(30):
                with UnitOfWork(connections.connect, f"t{n}") as uow:
                    key = id(_driver(uow))
                    with guard:
                        if key in in_use:
                            clashes.append(key)
                        in_use.add(key)
                    uow.conn.execute(catalog.riders.insert().values(id=f"r-{n}-{i}", name="R", vehicle="bike"))
                    uow.commit()
                    with guard:
                        in_use.discard(key)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert clashes == []
        with engine.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(catalog.riders).where(catalog.riders.c.id.like("r-%-%"))).scalar_one() == 120
        connections.close()
        assert engine.db.pool.checkedout() == 0
    finally:
        engine.close()


def test_closing_the_engine_returns_the_kept_connection(sqlite_db: str) -> None:
    engine = open_demo_engine(sqlite_db)
    engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
    assert engine.db.pool.checkedout() == 1  # kept between units of work
    engine.close()
    assert engine.db.pool.checkedout() == 0


def test_postgres_connections_give_up_on_a_silent_host_and_the_url_wins() -> None:
    """libpq's limits for a host whose packets are dropped: about 4 x connect_timeout_s; a parameter
    already in the URL is kept (make soak's silent-host phase shows the effect on a real server)."""
    from deliverycli.engine import storage

    url = storage.database_url("postgresql://postgres@db.example/test")
    limits = storage.dead_host_limits(url, connect_timeout_s=2.5)
    assert limits == {"connect_timeout": 3, "keepalives": 1, "keepalives_idle": 3, "keepalives_interval": 3,
                      "keepalives_count": 3, "tcp_user_timeout": 12000}
    mine = storage.database_url("postgresql://postgres@db.example/test?tcp_user_timeout=500&connect_timeout=9")
    assert "tcp_user_timeout" not in storage.dead_host_limits(mine, 1) and "connect_timeout" not in storage.dead_host_limits(mine, 1)
