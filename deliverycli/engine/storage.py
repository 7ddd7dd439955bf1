"""Database access: one SQLAlchemy engine per process, SQLite (default) or PostgreSQL.

SQLite runs in WAL mode with a busy timeout and foreign keys on; write transactions start with
``BEGIN IMMEDIATE`` so two processes never deadlock upgrading a read lock. PostgreSQL serialises
the appends to the event log with an advisory lock, so event ids become visible in commit order
and a reader that remembers "the last id I saw" never skips one.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import URL, make_url

from .errors import REMEDY_INIT, REMEDY_UPGRADE, DatabaseUnavailable, InvalidInput, NotFound, first_line, unavailable_database  # noqa: F401 (re-exported)

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# The Alembic revision this code expects; tests check it matches the migrations' head.
SCHEMA_HEAD = "0002"

EVENT_LOG_LOCK = 7_318_400  # advisory lock key that serialises event appends on PostgreSQL


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class JSONType(sa.TypeDecorator[Any]):
    """JSON, stored as JSONB on PostgreSQL; the PostgreSQL dialect is imported only when used."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


def utcnow() -> datetime:
    return datetime.now(UTC)


def database_url(db: str) -> URL:
    """Turn a database setting (a file path or a URL) into a SQLAlchemy URL with our chosen driver."""
    if not isinstance(db, str) or not db.strip():
        raise InvalidInput("the database is not given: give a file path or a URL", field="db")
    if any("\udc80" <= ch <= "\udcff" for ch in db) or "\x00" in db:  # undecodable bytes, or a NUL no file name holds
        raise InvalidInput("the database path or URL is not valid text", field="db")
    if "://" not in db:
        return make_url("sqlite:///" + str(Path(db).expanduser().resolve()))
    try:
        url = make_url(db)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a malformed host or port, e.g. "[::1/x"
        # not echoed: the URL may hold a password, which only a parsed URL can hide
        raise InvalidInput(
            "the database URL is not valid (its scheme, host or port is malformed): write postgresql://USER@HOST:PORT/DATABASE", field="db"
        ) from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if url.port is not None and not 1 <= url.port <= 65535:
            raise InvalidInput(f"{describe(url)!r} is not a valid database URL: port {url.port} is not from 1 to 65535", field="db")
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise InvalidInput("an in-memory SQLite database cannot be shared; give a file path", field="db")
        return url.set(drivername="sqlite", database=str(Path(url.database).expanduser().resolve()))
    raise InvalidInput(f"unsupported database {backend!r}: use a SQLite file path or a postgresql:// URL", field="db")


def describe(url: URL) -> str:
    """The URL with any password hidden, for messages."""
    return url.render_as_string(hide_password=True)


def create_sqlite_file(url: URL) -> None:
    """Create the database file and its folder owner-only, before SQLite opens it."""
    path = Path(url.database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def make_engine(url: URL, *, busy_timeout_s: float = 5.0) -> sa.Engine:
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

        @sa_event.listens_for(engine, "connect")
        def _configure(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cursor.close()

        @sa_event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            statement = "BEGIN" if conn.get_execution_options().get("readonly", False) else "BEGIN IMMEDIATE"
            # Straight to the driver: every transaction starts here, and SQLAlchemy's statement
            # machinery costs more than SQLite takes to begin. Its errors are wrapped as SQLAlchemy's.
            try:
                conn.connection.driver_connection.execute(statement)
            except sqlite3.Error as exc:
                raise sa.exc.OperationalError(statement, None, exc) from exc

        return engine
    engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)

    @sa_event.listens_for(engine, "connect")
    def _lock_timeout(dbapi_conn: Any, _record: Any) -> None:
        # As SQLite's busy timeout: wait this long for another transaction's lock, then fail clearly
        # (without it a command would wait forever behind a stuck writer).
        cursor = dbapi_conn.cursor()
        cursor.execute(f"SET lock_timeout = {max(1, int(busy_timeout_s * 1000))}")
        cursor.close()
        dbapi_conn.commit()

    return engine


def is_postgres(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"


def lock_event_log(conn: sa.Connection) -> None:
    """Serialise appends to the event log (PostgreSQL); SQLite's single writer already does."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_LOG_LOCK})


def insert_ignore(conn: sa.Connection, table: sa.Table) -> Any:
    """An INSERT that does nothing when the row's key already exists (two processes racing to create it)."""
    return _insert_ignore(conn.dialect.name, table)


@functools.cache
def _insert_ignore(dialect: str, table: sa.Table) -> Any:
    # Built once per table. SQLAlchemy does not cache the compiled form of ON CONFLICT statements:
    # keep them off hot paths.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


def schema_version(engine: sa.Engine) -> str | None:
    """The Alembic revision the database is at, or None when it has not been initialised."""
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(readonly=True)
            with conn.begin():
                if not sa.inspect(conn).has_table("alembic_version"):
                    return None
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DatabaseError as exc:  # also "file is not a database" (not an OperationalError)
        raise DatabaseUnavailable(f"cannot open the database: {first_line(exc)}") from exc


def check_ready(engine: sa.Engine, url: URL) -> None:
    """Refuse to work on a database that is missing or at another schema version."""
    if url.get_backend_name() == "sqlite" and not Path(url.database).exists():
        raise NotFound(f"no database at {url.database}; run `deliverycli init` (or `init --demo`) first")
    version = schema_version(engine)
    if version is None:
        raise NotFound(f"the database at {describe(url)} is not initialised; run `deliverycli init` first")
    if version != SCHEMA_HEAD:
        raise DatabaseUnavailable(
            f"the database schema is at revision {version}, this version of deliverycli needs {SCHEMA_HEAD}; "
            "run `deliverycli init` to upgrade it"
        )


def migrate(engine: sa.Engine) -> str:
    """Create or upgrade the schema in place with Alembic; returns the revision reached."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()
    return SCHEMA_HEAD
