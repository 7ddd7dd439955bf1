"""Issue 9 §2: a failed COMMIT must not poison the engine.

SQLite keeps one connection between units of work (``Connections``). When a COMMIT fails (a full
disk), SQLite leaves the transaction open and SQLAlchemy leaves it attached to the connection; every
later unit of work on that connection then failed with ``InvalidRequestError`` and the write lock
stayed held. Two ways to make a COMMIT fail for real:

- a deferred foreign key that is violated fails at COMMIT exactly as a full disk does, and needs no
  special file system (so it runs everywhere);
- a real full disk: a 4 MB tmpfs mounted in a private mount namespace (``unshare -rm``), with the
  library and the CLI run in it; skipped, and says why, where the sandbox forbids mounting.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from deliverycli.engine import catalog
from deliverycli.engine.unit_of_work import Connections, UnitOfWork

from .support import demo


def _add_commit_guard(db: str) -> None:
    """A table whose rows are checked only at COMMIT (a deferred foreign key)."""
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE guard_parent (id TEXT PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE guard_child (ref TEXT REFERENCES guard_parent(id) DEFERRABLE INITIALLY DEFERRED)")
    engine.dispose()


def test_a_failed_commit_leaves_the_kept_connection_usable(sqlite_db: str) -> None:
    with demo(sqlite_db, busy_timeout_s=0.5) as engine:
        _add_commit_guard(sqlite_db)
        connections = Connections(engine.db)
        try:
            with pytest.raises(sa.exc.IntegrityError), UnitOfWork(connections.connect, "test") as uow:
                uow.conn.execute(catalog.riders.insert().values(id="r-lost", name="Lost", vehicle="bike"))
                uow.conn.exec_driver_sql("INSERT INTO guard_child (ref) VALUES ('nobody')")
                uow.commit()  # the statements pass; the COMMIT fails
            # the next unit of work on the same Connections works ...
            with UnitOfWork(connections.connect, "test") as uow:
                uow.conn.execute(catalog.riders.insert().values(id="r-next", name="Next", vehicle="bike"))
                uow.commit()
            # ... another process is not locked out by a transaction left open ...
            other = sa.create_engine(f"sqlite:///{sqlite_db}", connect_args={"timeout": 0.5})
            with other.begin() as conn:
                conn.execute(catalog.riders.insert().values(id="r-other", name="Other", vehicle="car"))
            other.dispose()
            # ... and the failed transaction's row is gone.
            with engine.read() as conn:
                ids = set(conn.execute(sa.select(catalog.riders.c.id)).scalars())
            assert {"r-next", "r-other"} <= ids and "r-lost" not in ids
        finally:
            connections.close()
        assert engine.db.pool.checkedout() == 0


def test_a_failed_begin_or_statement_leaves_the_kept_connection_usable(sqlite_db: str) -> None:
    with demo(sqlite_db, busy_timeout_s=0.2) as engine:
        connections = Connections(engine.db)
        try:
            holder = sqlite3.connect(sqlite_db, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # another writer: our BEGIN IMMEDIATE times out
            with pytest.raises(sa.exc.OperationalError, match="locked"), UnitOfWork(connections.connect, "test"):
                pass
            holder.execute("ROLLBACK")
            holder.close()
            with pytest.raises(sa.exc.IntegrityError), UnitOfWork(connections.connect, "test") as uow:
                uow.conn.execute(catalog.riders.insert().values(id="rider-kim", name="Twin", vehicle="bike"))  # taken
            with UnitOfWork(connections.connect, "test") as uow:
                uow.conn.execute(catalog.riders.insert().values(id="r-after", name="After", vehicle="bike"))
                uow.commit()
            with engine.read() as conn:
                assert conn.execute(sa.select(catalog.riders.c.name).where(catalog.riders.c.id == "r-after")).scalar() == "After"
        finally:
            connections.close()


def test_the_engine_keeps_working_after_a_failed_commit(sqlite_db: str) -> None:
    """The same through the engine's own bus: a command whose COMMIT fails, then commands that work."""
    with demo(sqlite_db, busy_timeout_s=0.5) as engine:
        first = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Before St")
        _add_commit_guard(sqlite_db)
        with pytest.raises(sa.exc.IntegrityError), engine.bus.unit_of_work("test") as uow:
            uow.conn.exec_driver_sql("INSERT INTO guard_child (ref) VALUES ('nobody')")
            uow.commit()
        after = engine.orders.place("bob", "seoul-bbq", ["bulgogi"], "2 After St")
        assert after.status == "PAID"
        engine.store.accept(first.id, "pizza-palace")
        assert engine.orders.status(first.id).status == "COOKING"
        assert engine.orders.status(after.id).status == "PAID"


# -- a real full disk ------------------------------------------------------------------------------

FULL_DISK_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import deliverycli
    from deliverycli.engine.errors import DeliveryError

    folder = sys.argv[1]
    report = {"before": [], "full": [], "after": []}
    engine = deliverycli.initialise(os.path.join(folder, "shop.db"), demo=True, busy_timeout_s=1)

    def place(phase, address):
        try:
            report[phase].append(engine.orders.place("alice", "pizza-palace", ["margherita"], address).status)
        except DeliveryError as exc:
            report[phase].append(f"{exc.code}: {exc.message}")

    for n in range(3):
        place("before", f"{n} Roomy St")
    filler = open(os.path.join(folder, "filler"), "wb", buffering=0)
    try:
        while True:
            filler.write(b"x" * 65536)
    except OSError:
        pass
    try:
        while True:
            filler.write(b"x" * 512)
    except OSError:
        filler.close()
    for n in range(3):
        place("full", f"{n} Crammed St " + "x" * 400)
    os.remove(os.path.join(folder, "filler"))
    for n in range(3):
        place("after", f"{n} Freed St")
    engine.close()
    print(json.dumps(report))
    """
)


def _in_private_tmpfs(command: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (a shell line; $MNT is the tmpfs) with a fresh 4 MB tmpfs mounted, as root
    or in a private user and mount namespace; skip when the sandbox allows neither."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = f'mount -t tmpfs -o size=4m tmpfs "$MNT" && {command}'
    env = os.environ | {"MNT": str(mnt), "NO_COLOR": "1", "COLUMNS": "200"}
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no `unshare` here: cannot mount a small tmpfs to fill")
    probe = subprocess.run([unshare, "-rm", "sh", "-c", 'mount -t tmpfs -o size=1m tmpfs "$MNT"'], env=env, capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"this sandbox cannot mount a tmpfs in a private namespace: {probe.stderr.strip()}")
    return subprocess.run([unshare, "-rm", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=300)


def test_a_full_disk_fails_clearly_and_the_engine_recovers_when_space_is_freed(tmp_path: Path) -> None:
    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK_SCRIPT)
    proc = _in_private_tmpfs(f'"{sys.executable}" "{script}" "$MNT"', tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["before"] == ["PAID"] * 3
    assert report["full"] and all(r.startswith("database_unavailable: ") and "full" in r for r in report["full"]), report["full"]
    assert report["after"] == ["PAID"] * 3, report["after"]


def test_simulate_on_a_full_disk_says_the_database_is_unavailable(tmp_path: Path) -> None:
    cli = f'"{sys.executable}" -m deliverycli --db "$MNT/shop.db"'
    # all but 300 kB: room to open the database and start, not to finish
    fill = 'head -c 8m /dev/zero > "$MNT/filler" 2>/dev/null; truncate -s -300K "$MNT/filler"; '
    command = f"{cli} init --demo > /dev/null && {fill}{cli} --json simulate --orders 200 --seed 3; echo \"exit=$?\""
    proc = _in_private_tmpfs(command, tmp_path)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("exit=7"), proc.stdout + proc.stderr
    error = json.loads(proc.stdout.strip().splitlines()[0])["error"]
    assert error["code"] == "database_unavailable" and "full" in error["message"], error
