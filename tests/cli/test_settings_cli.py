"""Issue 9 §8, settings: nothing a user writes is silently ignored or silently rounded away."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from conftest import PG_URL, open_demo_engine
from deliverycli.engine import storage

from .support import assert_error, run_all


def test_an_unknown_setting_in_the_file_is_named_with_the_near_one(tmp_path: Path, cli) -> None:
    config = tmp_path / "deliverycli.toml"
    config.write_text("payment_timeout = 1.5\nbusy_timeout_s = 2\n")
    db = str(tmp_path / "x.db")
    shown, command = run_all(cli, [("config", "show", "--json"), ("stores", "list", "--json", {"db": db})], env={"DELIVERYCLI_CONFIG": str(config)})
    for result in (shown, command):
        error = assert_error(result, 2, "payment_timeout", "did you mean 'payment_timeout_s'?", str(config))
        assert error["code"] == "invalid_input"
    assert not Path(db).exists()


def test_a_config_path_that_is_a_folder_is_an_error(tmp_path: Path, cli) -> None:
    result = cli("stores", "list", "--json", db=str(tmp_path / "x.db"), env={"DELIVERYCLI_CONFIG": str(tmp_path)})
    assert_error(result, 2, str(tmp_path), "folder")


def test_a_tiny_busy_timeout_rounds_up_to_a_millisecond_not_down_to_none(tmp_path: Path) -> None:
    """0 ms means "never wait" to SQLite and "wait for ever" to PostgreSQL."""
    db = storage.make_engine(storage.database_url(str(tmp_path / "t.db")), busy_timeout_s=1e-9)
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1
    db.dispose()
    if PG_URL:
        pg = storage.make_engine(storage.database_url(PG_URL), busy_timeout_s=1e-9)
        with pg.connect() as conn:
            assert conn.execute(sa.text("SHOW lock_timeout")).scalar() == "1ms"
        pg.dispose()
    assert storage.milliseconds(0.0015) == 2 and storage.milliseconds(5) == 5000


def test_a_busy_timeout_of_a_nanosecond_is_accepted_and_works(tmp_path: Path, cli) -> None:
    db = str(tmp_path / "shop.db")
    open_demo_engine(db).close()
    result = cli("stores", "list", "--json", db=db, env={"DELIVERYCLI_BUSY_TIMEOUT_S": "1e-9"})
    assert result.code == 0 and len(result.json) == 3
