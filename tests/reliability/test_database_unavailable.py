"""Issue 9 §6 and §7: nothing hangs, and an unavailable database is exit 7 with a clear message.

- A PostgreSQL host that accepts connections and never answers (a listener thread here): commands
  and `doctor` give up after the connect timeout, "unreachable". Every run has a generous timeout
  of its own: a hang fails the test instead of blocking it; nothing asserts on wall time.
- A locked database is told apart from an unreachable one; a statement that runs too long is cut.
- A database written by a newer deliverycli says "upgrade deliverycli", never "run init".
- A read-only database (a read-only mount; PostgreSQL in read-only transactions) answers queries
  and refuses writes as "read-only".
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

import deliverycli
from conftest import PG_URL, run_cli
from deliverycli.engine import storage
from deliverycli.engine.errors import REMEDY_INIT, DatabaseUnavailable, NotFound

from .support import demo, diff, downgrade, dump

QUICK = {"DELIVERYCLI_CONNECT_TIMEOUT_S": "1", "DELIVERYCLI_BUSY_TIMEOUT_S": "0.5"}
HANG_GUARD_S = 60  # far above every timeout in play: reaching it means a hang


@contextmanager
def silent_host() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


def test_a_silent_host_is_unreachable_not_a_hang() -> None:
    with silent_host() as port:
        db = f"postgresql://postgres@127.0.0.1:{port}/shop"
        listing = run_cli("stores", "list", "--json", db=db, env=QUICK, timeout=HANG_GUARD_S)
        doctor = run_cli("doctor", "--json", db=db, env=QUICK, timeout=HANG_GUARD_S)
        human = run_cli("orders", "show", "ord-000001", db=db, env=QUICK, timeout=HANG_GUARD_S)
    assert listing.code == 7 and listing.json["error"]["code"] == "database_unavailable", listing.stdout
    assert "unreachable" in listing.json["error"]["message"]
    assert doctor.code == 7 and doctor.json["state"] == "unreachable" and doctor.json["reachable"] is False, doctor.stdout
    assert human.code == 7 and human.stderr.startswith("error: ") and "unreachable" in human.stderr


def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli("doctor", "--json", db=f"postgresql://postgres@127.0.0.1:{port}/shop", env=QUICK, timeout=HANG_GUARD_S)
    assert result.code == 7 and result.json["state"] == "unreachable", result.stdout


@contextmanager
def locked(db: str) -> Iterator[None]:
    """Another process holding the database so that even readers wait: SQLite in exclusive locking
    mode with a write, PostgreSQL with an ACCESS EXCLUSIVE lock on the schema's version table."""
    ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        if "://" not in db:
            conn = sqlite3.connect(db, isolation_level=None)
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("UPDATE order_numbers SET last = last")
            ready.set()
            release.wait(HANG_GUARD_S)
            conn.execute("ROLLBACK")
            conn.close()
            return
        engine = storage.make_engine(storage.database_url(db))
        with engine.begin() as conn:
            conn.execute(sa.text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
            ready.set()
            release.wait(HANG_GUARD_S)
        engine.dispose()

    thread = threading.Thread(target=hold)
    thread.start()
    assert ready.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join()


def test_doctor_tells_a_locked_database_from_an_unreachable_one(db_url: str) -> None:
    with demo(db_url):
        pass
    with locked(db_url):
        doctor = run_cli("doctor", "--json", db=db_url, env=QUICK, timeout=HANG_GUARD_S)
        listing = run_cli("stores", "list", "--json", db=db_url, env=QUICK, timeout=HANG_GUARD_S)
    assert doctor.code == 7, doctor.stdout
    assert doctor.json["state"] == "locked" and doctor.json["reachable"] is True, doctor.json
    assert "busy" in doctor.json["problems"][0]
    assert listing.code == 7 and "busy" in listing.json["error"]["message"], listing.stdout
    assert run_cli("doctor", "--json", db=db_url, timeout=HANG_GUARD_S).code == 0  # and healthy once released


@pytest.mark.skipif(not PG_URL, reason="DELIVERYCLI_TEST_POSTGRES_URL not set")
def test_a_statement_running_past_the_statement_timeout_is_cut_off() -> None:
    engine = storage.make_engine(storage.database_url(PG_URL), statement_timeout_s=0.2)
    try:
        with pytest.raises(sa.exc.OperationalError) as caught, engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_sleep(30)"))
        unavailable = storage.unavailable_database(caught.value)
        assert unavailable is not None and unavailable.reason == "timeout" and unavailable.exit_code == 7
    finally:
        engine.dispose()


# -- schema revisions ----------------------------------------------------------------------------


def _set_revision(db: str, revision: str) -> None:
    engine = storage.make_engine(storage.database_url(db))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    engine.dispose()


def test_a_database_from_a_newer_deliverycli_says_upgrade_not_init(db_url: str) -> None:
    with demo(db_url):
        pass
    _set_revision(db_url, "0042")
    before = dump(db_url)
    for args in (("stores", "list"), ("init",), ("init", "--demo"), ("orders", "place", "--customer", "alice", "--store", "pizza-palace", "--item", "cola", "--address", "x")):
        result = run_cli(*args, "--json", db=db_url, timeout=HANG_GUARD_S)
        assert result.code == 7, (args, result.stdout)
        message = result.json["error"]["message"]
        assert "newer deliverycli" in message and "upgrade deliverycli" in message, message
        assert "deliverycli init" not in message and "Can't locate revision" not in message
    doctor = run_cli("doctor", "--json", db=db_url, timeout=HANG_GUARD_S)
    assert doctor.code == 7 and doctor.json["state"] == "schema mismatch" and doctor.json["schema"]["current"] == "0042"
    assert "upgrade deliverycli" in doctor.json["problems"][0]
    assert diff(before, dump(db_url)) == []


def test_an_older_schema_says_run_init_and_init_upgrades_it(tmp_path: Path) -> None:
    db = str(tmp_path / "shop.db")
    with demo(db):
        pass
    downgrade(db, "0002")  # as 0002 left it
    refused = run_cli("stores", "list", "--json", db=db)
    assert refused.code == 7 and "run `deliverycli init` to upgrade it" in refused.json["error"]["message"], refused.stdout
    assert run_cli("init", "--json", db=db).json["schema"] == storage.SCHEMA_HEAD
    assert run_cli("stores", "list", "--json", db=db).code == 0


def test_a_missing_database_says_run_init(tmp_path: Path) -> None:
    result = run_cli("stores", "list", "--json", db=str(tmp_path / "nothing.db"))
    assert result.code == 3 and "run `deliverycli init`" in result.json["error"]["message"]
    with pytest.raises(NotFound) as caught:  # the library: a remedy, not CLI words
        deliverycli.open_engine(str(tmp_path / "nothing.db"))
    assert caught.value.remedy == REMEDY_INIT and "deliverycli init" not in caught.value.message


def test_a_damaged_file_is_exit_7(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database, just bytes " * 200)
    result = run_cli("stores", "list", "--json", db=str(garbage))
    assert result.code == 7 and "not a database" in result.json["error"]["message"], result.stdout
    with pytest.raises(DatabaseUnavailable):
        storage.schema_version(storage.make_engine(storage.database_url(str(garbage))))


# -- read-only databases ---------------------------------------------------------------------------

READS = [("stores", "list"), ("orders", "list"), ("status", "ord-000001"), ("events", "tail", "-n", "3"), ("payments", "list"), ("doctor",)]
WRITES = [
    ("orders", "place", "--customer", "alice", "--store", "pizza-palace", "--item", "cola", "--address", "2 Ro St"),
    ("store", "accept", "ord-000001", "--store", "pizza-palace"),
    ("stores", "add", "--id", "new-store", "--name", "New", "--address", "1 New St"),
]


def test_a_read_only_mount_answers_queries_and_refuses_writes(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no `unshare` here: cannot make a read-only mount")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cli = f'"{sys.executable}" -m deliverycli --db "$MNT/shop.db" --json'
    lines = [f"{cli} init --demo > /dev/null", f"{cli} orders place --customer alice --store pizza-palace --item cola --address 1 > /dev/null",
             'mount -o remount,ro "$MNT"']
    for args in READS + WRITES:
        lines.append(f'{cli} {shlex.join(args)} > "$OUT/{len(lines)}.json"; echo $? > "$OUT/{len(lines)}.code"')
    out = tmp_path / "out"
    out.mkdir()
    script = 'mount -t tmpfs -o size=8m tmpfs "$MNT" && ' + " && ".join(lines[:3]) + " && { " + "; ".join(lines[3:]) + "; }"
    env = os.environ | {"MNT": str(mnt), "OUT": str(out), "NO_COLOR": "1"}
    probe = subprocess.run([unshare, "-rm", "sh", "-c", 'mount -t tmpfs -o size=1m tmpfs "$MNT"'], env=env, capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"this sandbox cannot mount a tmpfs in a private namespace: {probe.stderr.strip()}")
    proc = subprocess.run([unshare, "-rm", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for n, args in enumerate(READS + WRITES, start=3):
        code = int((out / f"{n}.code").read_text())
        text = (out / f"{n}.json").read_text()
        if args in READS:
            assert code == 0, (args, code, text)
        else:
            assert code == 7 and "read-only" in text, (args, code, text)


@pytest.mark.skipif(not PG_URL, reason="DELIVERYCLI_TEST_POSTGRES_URL not set")
def test_postgres_in_read_only_transactions_answers_queries_and_refuses_writes(db_url: str) -> None:
    if "://" not in db_url:
        pytest.skip("PostgreSQL only (SQLite: the read-only mount above)")
    with demo(db_url) as engine:
        engine.orders.place("alice", "pizza-palace", ["cola"], "1 Ro St")
    before = dump(db_url)
    read_only = db_url + "%20-cdefault_transaction_read_only%3Don"  # appended to the test schema's options
    for args in READS:
        result = run_cli(*args, "--json", db=read_only, timeout=HANG_GUARD_S)
        assert result.code == 0, (args, result.stdout)
    for args in WRITES:
        result = run_cli(*args, "--json", db=read_only, timeout=HANG_GUARD_S)
        assert result.code == 7 and "read-only" in result.json["error"]["message"], (args, result.stdout)
    assert diff(before, dump(db_url)) == []


# -- every command -------------------------------------------------------------------------------

EVERY_COMMAND = [
    ("init",), ("init", "--demo"), ("doctor",), ("stores", "list"), ("customers", "list"), ("riders", "list"), ("menus", "list"),
    ("stores", "add", "--id", "s1", "--name", "S", "--address", "A"), ("customers", "add", "--id", "c1", "--name", "C", "--address", "A"),
    ("riders", "add", "--id", "r1", "--name", "R"), ("menus", "add", "--store", "s1", "--id", "m1", "--name", "M", "--price", "100"),
    ("orders", "place", "--customer", "alice", "--store", "pizza-palace", "--item", "cola", "--address", "A"),
    ("orders", "cancel", "ord-000001", "--customer", "alice"), ("orders", "confirm", "ord-000001", "--customer", "alice"),
    ("orders", "show", "ord-000001"), ("orders", "list"), ("store", "queue", "--store", "pizza-palace"),
    ("store", "accept", "ord-000001", "--store", "pizza-palace"), ("store", "reject", "ord-000001", "--store", "pizza-palace", "--reason", "r"),
    ("store", "ready", "ord-000001", "--store", "pizza-palace"), ("deliveries", "list"), ("deliveries", "pickup", "ord-000001", "--rider", "rider-kim"),
    ("deliveries", "complete", "ord-000001", "--rider", "rider-kim"), ("payments", "list"), ("payments", "show", "ord-000001"),
    ("status", "ord-000001"), ("notifications", "list"), ("events", "tail"), ("simulate", "--orders", "1"), ("views", "rebuild"),
    ("deadletters", "list"), ("deadletters", "retry", "1"),
]


def test_every_command_says_the_database_is_unavailable_with_exit_7(tmp_path: Path) -> None:
    """A server nobody answers on, and a file that is not a database: exit 7, never 1."""
    from .procs import fork_cli, warm_up

    warm_up()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"postgresql://postgres@127.0.0.1:{probe.getsockname()[1]}/shop"
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database, just bytes " * 200)
    wrong = []
    for db in (closed, str(garbage)):
        for args in EVERY_COMMAND:
            result = fork_cli(*args, "--json", db=db, env=QUICK, timeout=HANG_GUARD_S)
            said = result.json["state"] if args == ("doctor",) else result.json.get("error", {}).get("code")
            if result.code != 7 or said not in ("database_unavailable", "unreachable", "damaged"):
                wrong.append(f"{db[:30]} {' '.join(args)}: exit {result.code} {result.stdout[:200]}")
    assert wrong == [], "\n".join(wrong)
