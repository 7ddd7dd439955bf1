"""Shared fixtures: a real database (a SQLite file, or a fresh schema on PostgreSQL) and a CLI runner
that starts the real `deliverycli` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PG_URL = os.environ.get("DELIVERYCLI_TEST_POSTGRES_URL")

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="DELIVERYCLI_TEST_POSTGRES_URL not set")]),
]


def _postgres_schema_url() -> Iterator[str]:
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's own config file or DELIVERYCLI_* variables."""
    for name in list(os.environ):
        if name.startswith("DELIVERYCLI_") and not name.startswith("DELIVERYCLI_TEST_"):  # the test servers' URLs stay
            monkeypatch.delenv(name)
    monkeypatch.setenv("DELIVERYCLI_CONFIG", str(tmp_path / "no-config.toml"))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file path, or a postgresql:// URL to a fresh schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "deliverycli.db")
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return str(tmp_path / "deliverycli.db")


def open_demo_engine(db: str, **overrides: Any):
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.settings import load_settings

    engine, _ = Engine.initialise(load_settings(db=db, **overrides), demo=True)
    return engine


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    """An engine on a demo database, on every backend."""
    eng = open_demo_engine(db_url, retry_backoff_s=0.001)
    yield eng
    eng.close()


@pytest.fixture
def reopen(engine: Any) -> Iterator[Any]:
    """``reopen(gateway=..., clock=..., subscribers=...)``: another engine on the ``engine`` fixture's
    database, with those parts swapped (as another process, or a restart, would have); closed after the test."""
    from deliverycli.engine.bootstrap import Engine

    opened: list[Any] = []

    def open_(**parts: Any) -> Any:
        opened.append(Engine.open(engine.settings, catch_up=False, **parts))
        return opened[-1]

    yield open_
    for other in opened:
        other.close()


@pytest.fixture
def demo_db(db_url: str) -> str:
    """A database initialised with demo data, for CLI tests; the engine that made it is closed."""
    open_demo_engine(db_url).close()
    return db_url


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_cli(*args: str, db: str | None = None, env: dict[str, str] | None = None, timeout: float = 60, input: str | None = None) -> Result:
    """Run the real CLI in a subprocess: `python -m deliverycli [--db DB] ARGS...`."""
    argv = [sys.executable, "-m", "deliverycli"]
    if db is not None:
        argv += ["--db", db]
    argv += list(args)
    full_env = os.environ | {"NO_COLOR": "1", "COLUMNS": "200"} | (env or {})
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=full_env, input=input)
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli
