"""A failure of the database itself (a damaged page, a lost connection) is not a handler's bug: the
event is not parked as a dead letter, the command says clearly what happened (exit 7), and the event
stays pending until the database is repaired, then takes effect exactly once (issue 9 §5)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from deliverycli.engine import eventlog
from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.errors import DatabaseUnavailable
from deliverycli.engine.messagebus import Subscriber
from deliverycli.settings import load_settings

from conftest import BACKENDS, run_cli
from .support import assert_invariants, demo


def damage_table(db: str, table: str) -> tuple[int, bytes]:
    """Overwrite the root page of ``table`` in the file (every change checkpointed first); returns
    where it was and what it held, to repair it afterwards."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
    offset = (root - 1) * page_size
    with open(db, "r+b") as fh:
        fh.seek(offset)
        original = fh.read(page_size)
        fh.seek(offset)
        fh.write(b"\xff" * page_size)
    return offset, original


def repair(db: str, offset: int, original: bytes) -> None:
    with open(db, "r+b") as fh:
        fh.seek(offset)
        fh.write(original)


def counts(db: str) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("orders", "dead_letters", "subscriber_failures")}


def test_a_damaged_page_fails_the_command_clearly_and_parks_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "damaged.db")
    with demo(db) as engine:
        engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Page St")
    offset, original = damage_table(db, "order_timeline")  # the status view's timeline: written by a subscriber

    placed = run_cli("orders", "place", "--customer", "bob", "--store", "pizza-palace", "--item", "cola", "--address", "2 Page St", "--json", db=db)
    assert placed.code == 7, (placed.stdout, placed.stderr)
    error = placed.json["error"]
    assert error["code"] == "database_unavailable" and "the command was recorded" in error["message"] and "damaged" in error["message"]
    assert counts(db) == {"orders": 2, "dead_letters": 0, "subscriber_failures": 0}  # recorded, nothing parked

    repair(db, offset, original)
    assert run_cli("riders", "add", "--id", "rider-new", "--name", "New", "--json", db=db).code == 0  # a write catches up
    with Engine.open(load_settings(db=db), catch_up=False) as engine:
        assert set(engine.ops.lag().values()) == {0} and engine.ops.dead_letters() == []
        assert [t.event for t in engine.orders.status("ord-000002").timeline][:2] == ["OrderPlaced", "PaymentApproved"]
        assert_invariants(engine)
    assert run_cli("doctor", "--check", db=db).code == 0


@pytest.mark.parametrize("db_url", [b for b in BACKENDS if getattr(b, "values", None) == ("postgres",)], indirect=True)
def test_a_lost_connection_while_applying_events_parks_nothing(db_url: str) -> None:
    """PostgreSQL: the status subscriber's connection is terminated under it, as when the server
    restarts; the event stays pending and the next drain applies it once."""
    demo(db_url).close()
    terminated: list[int] = []

    def cut_off(subscribers: list[Subscriber]) -> list[Subscriber]:
        def apply(event: Any, uow: Any) -> None:
            if not terminated:
                terminated.append(event.id)
                uow.conn.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))
            status_handler(event, uow)

        status_handler = next(s for s in subscribers if s.name == "status").handlers["OrderPlaced"]
        return [Subscriber(s.name, {**s.handlers, "OrderPlaced": apply}) if s.name == "status" else s for s in subscribers]

    settings = load_settings(db=db_url, retry_backoff_s=0.001)
    with Engine.open(settings, subscribers=cut_off) as engine:
        with pytest.raises(DatabaseUnavailable, match="the command was recorded"):
            engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Lost St")
    with Engine.open(settings, catch_up=False) as engine, engine.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(eventlog.dead_letters)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(eventlog.subscriber_failures)).scalar_one() == 0
    with Engine.open(settings) as engine:  # catching up applies it
        assert engine.orders.status("ord-000001").status == "PAID" and set(engine.ops.lag().values()) == {0}
        assert_invariants(engine)
