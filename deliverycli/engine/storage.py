"""Database access: one SQLAlchemy engine per process, SQLite (default) or PostgreSQL.

SQLite runs in WAL mode with a busy timeout and foreign keys on; write transactions start with
``BEGIN IMMEDIATE`` so two processes never deadlock upgrading a read lock. PostgreSQL serialises
the appends to the event log with an advisory lock, so event ids become visible in commit order
and a reader that remembers "the last id I saw" never skips one.
"""

from __future__ import annotations

import errno
import functools
import math
import os
import sqlite3
import urllib.parse
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
SCHEMA_HEAD = "0010"

# PostgreSQL: the advisory lock that serialises event appends. One key for every schema of a database:
# a per-schema key would let a process of an earlier release (which takes this one) append beside a
# later one's appends in the same schema, out of order, while both run during an upgrade.
EVENT_LOG_LOCK = 7_318_400
LOCK_EVENT_LOG_SQL = f"pg_advisory_xact_lock({EVENT_LOG_LOCK})"
MIGRATION_LOCK = 7_318_402  # advisory lock key that serialises migrations (7_318_401: the gateway's ledger)
MIGRATION_LOCK_WAIT_S = 120


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
    except OSError as exc:
        read_only = exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
        raise DatabaseUnavailable(
            f"cannot create the database at {path}: {exc.strerror or exc}" + (" (the folder is read-only)" if read_only else ""),
            reason="read_only" if read_only else "io",
        ) from None


def sqlite_read_only(path: Path) -> bool:
    """Whether this process may not write the database: the file, or the folder that must hold its
    -wal and -shm files (a read-only mount, or permissions)."""
    return path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def _connect_read_only(path: Path, timeout_s: float) -> sqlite3.Connection:
    """A read-only connection. A WAL reader needs the -shm file, which SQLite cannot make in a
    folder it may not write; where nobody can be writing (a read-only mount, or no -wal file in a
    read-only folder) the file is opened as immutable instead."""
    uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
    nobody_writes = bool(os.statvfs(path).f_flag & os.ST_RDONLY) or not Path(f"{path}-wal").exists()
    if nobody_writes and not os.access(path.parent, os.W_OK):
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True, timeout=timeout_s, check_same_thread=False)


def milliseconds(seconds: float) -> int:
    """A timeout in whole milliseconds, rounded up: 0 would mean "no timeout" (PostgreSQL) or "do not wait" (SQLite)."""
    return max(1, math.ceil(seconds * 1000))


def dead_host_limits(url: URL, connect_timeout_s: float) -> dict[str, int]:
    """libpq settings that bound every wait on a host that went silent (its packets dropped): to
    connect (``connect_timeout``), for data it never acknowledges (``tcp_user_timeout``) and for an
    answer that never comes (TCP keepalives). About 4 x ``connect_timeout_s`` after the host falls
    silent the connection fails, and the command with it (exit 7), instead of waiting for ever; a
    live server acknowledges and answers keepalives, so long statements are not cut short by this.
    Parameters already in the URL win."""
    seconds = max(1, math.ceil(connect_timeout_s))
    limits = {
        "connect_timeout": seconds,
        "keepalives": 1,
        "keepalives_idle": seconds,
        "keepalives_interval": seconds,
        "keepalives_count": 3,
        "tcp_user_timeout": 4 * seconds * 1000,
    }
    return {name: value for name, value in limits.items() if name not in url.query}


def make_engine(
    url: URL, *, busy_timeout_s: float = 5.0, connect_timeout_s: float = 5.0, statement_timeout_s: float = 120.0
) -> sa.Engine:
    """An engine for ``url``. Every wait is bounded: for another writer's lock (``busy_timeout_s``),
    and on PostgreSQL for a connection (``connect_timeout_s``) and for one statement
    (``statement_timeout_s``). A SQLite file this process may not write is opened read-only: queries
    work, and writes fail as "read-only"."""
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        read_only = sqlite_read_only(path)
        if read_only:
            engine = sa.create_engine(url, creator=lambda: _connect_read_only(path, busy_timeout_s))
        else:
            engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

        @sa_event.listens_for(engine, "connect")
        def _configure(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
            cursor = dbapi_conn.cursor()
            if not read_only:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={milliseconds(busy_timeout_s)}")
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
    engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=dead_host_limits(url, connect_timeout_s))

    @sa_event.listens_for(engine, "connect")
    def _timeouts(dbapi_conn: Any, _record: Any) -> None:
        # As SQLite's busy timeout: wait this long for another transaction's lock, then fail clearly
        # (without it a command would wait forever behind a stuck writer); and never run a
        # statement for ever.
        cursor = dbapi_conn.cursor()
        cursor.execute(f"SET lock_timeout = {milliseconds(busy_timeout_s)}; SET statement_timeout = {milliseconds(statement_timeout_s)}")
        cursor.close()
        dbapi_conn.commit()

    return engine


def engine_for(url: URL, settings: Any) -> sa.Engine:
    """``make_engine`` with the timeouts of ``settings``."""
    return make_engine(
        url,
        busy_timeout_s=settings.busy_timeout_s,
        connect_timeout_s=settings.connect_timeout_s,
        statement_timeout_s=settings.statement_timeout_s,
    )


def is_postgres(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"


_LOCK_EVENT_LOG = sa.text(f"SELECT {LOCK_EVENT_LOG_SQL}")


def lock_event_log(conn: sa.Connection) -> None:
    """Serialise appends to the event log (PostgreSQL); SQLite's single writer already does."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK_EVENT_LOG)


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


# -- readiness: the schema revision, and the currency the database was created with ------------------

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)
_CURRENCY = sa.select(meta.c.value).where(meta.c.name == "currency")


def schema_version(engine: sa.Engine) -> str | None:
    """The Alembic revision the database is at, or None when it has not been initialised."""
    return _read_state(engine)[0]


def _read_state(engine: sa.Engine) -> tuple[str | None, str | None]:
    """(schema revision, currency) in one read-only transaction; (None, None) when not initialised."""
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(readonly=True)
            with conn.begin():
                version = _current_revision(conn)
                currency = conn.execute(_CURRENCY).scalar() if version == SCHEMA_HEAD else None
                return version, currency
    except sa.exc.DBAPIError as exc:  # also "file is not a database" (not an OperationalError)
        unavailable = unavailable_database(exc)
        if unavailable is None:
            raise
        raise unavailable from exc


def _current_revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def missing_database(url: URL) -> NotFound:
    """The error for a SQLite file that does not exist (yet)."""
    return NotFound(f"no database at {url.database}", remedy=REMEDY_INIT)


def check_ready(engine: sa.Engine, url: URL, currency: str | None = None) -> None:
    """Refuse to work on a database that is missing, at another schema revision, or (given
    ``currency``) priced in another currency."""
    if url.get_backend_name() == "sqlite" and not Path(url.database).exists():
        raise missing_database(url)
    version, stored_currency = _read_state(engine)
    if version is None:
        raise NotFound(f"the database at {describe(url)} is not initialised", remedy=REMEDY_INIT)
    if version != SCHEMA_HEAD:
        raise _schema_mismatch(version)
    if currency is not None and stored_currency is not None and currency != stored_currency:
        raise _other_currency(currency, stored_currency)


def _schema_mismatch(version: str) -> DatabaseUnavailable:
    if _known_revision(version):
        return DatabaseUnavailable(
            f"the database schema is at revision {version}; this version of deliverycli needs {SCHEMA_HEAD}", reason="schema", remedy=REMEDY_INIT
        )
    return DatabaseUnavailable(
        f"the database was written by a newer deliverycli: its schema revision {version} is unknown to this version "
        f"(which knows up to {SCHEMA_HEAD})",
        reason="schema",
        remedy=REMEDY_UPGRADE,
    )


def _other_currency(currency: str, stored: str) -> InvalidInput:
    return InvalidInput(f"the currency setting is {currency}, but this database keeps its prices in {stored}", field="currency")


def alembic_config() -> Any:
    """Alembic's configuration for our migrations (the caller hands it a connection)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    return config


def _known_revision(version: str) -> bool:
    """Whether ``version`` is one of this code's migrations (else a newer deliverycli wrote it)."""
    from alembic.script import ScriptDirectory

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(version) is not None
    except Exception:  # noqa: BLE001 - alembic says "unknown" with several error types
        return False


def migrate(engine: sa.Engine, currency: str | None = None) -> str:
    """Create or upgrade the schema in place with Alembic, in one transaction; returns the revision
    reached. With ``currency``: record it on a new database, refuse it if the database has another.

    Several processes may run this at once on a fresh database: on PostgreSQL an advisory lock lets
    one migrate while the others wait and then find nothing to do (SQLite's write lock does the same).
    """
    from alembic import command

    config = alembic_config()
    with engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            # A migration holds the lock for as long as it takes: wait longer than for a row lock.
            conn.execute(sa.text(f"SET LOCAL lock_timeout = '{MIGRATION_LOCK_WAIT_S}s'"))
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        current = _current_revision(conn)
        if current not in (None, SCHEMA_HEAD) and not _known_revision(current):
            raise _schema_mismatch(current)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        if currency is not None:
            stored = conn.execute(_CURRENCY).scalar()
            if stored is None:
                conn.execute(meta.insert().values(name="currency", value=currency))
            elif stored != currency:
                raise _other_currency(currency, stored)
    return SCHEMA_HEAD
