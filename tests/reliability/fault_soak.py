"""`make soak`, the fault phases (issue 9 §10): payment calls paused with SIGSTOP, a disk that fills
up and is freed, PostgreSQL backends terminated mid-run, and a database host that falls silent.

Each phase drives real CLI processes and ends with `doctor --check` on the database it used. It
counts the faults injected, the orders, money mismatches (invariant problems about charges and
refunds), stuck orders (still waiting for a payment, or events no subscriber applied, or dead
letters, after a final catch-up) and internal errors (exit 1, or a traceback on stderr). The disk and
silent-host phases run their driver inside a private namespace (`unshare`): a 64 MB tmpfs, and a
network namespace whose loopback is blackholed with `tc` while PostgreSQL is reached through a
unix-socket proxy, so the faults touch nothing outside the soak.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .crash import _unfinished_run

ROOT = Path(__file__).resolve().parents[2]
MONEY = re.compile(r"charg|refund|paid|payment|amount|ledger|void", re.IGNORECASE)
PG_SOCKET_DIR = "/var/run/postgresql"


@dataclass
class FaultFigures:
    phase: str
    backend: str
    faults: int = 0
    orders: int = 0
    commands: int = 0
    exit_codes: dict[str, int] = field(default_factory=dict)
    money_mismatches: int = 0
    stuck: int = 0
    internal_errors: int = 0
    hangs: int = 0
    problems: list[str] = field(default_factory=list)
    notes: str = ""
    wall_time_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cli(db: str, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "deliverycli", "--db", db, *args]
    return subprocess.run(argv, capture_output=True, text=True, env=(env or os.environ) | {"NO_COLOR": "1"}, timeout=timeout, cwd=ROOT)


def finished(figures: FaultFigures, child: subprocess.Popen[str], timeout: float = 600) -> str:
    """Wait for ``child`` (a hang past ``timeout`` is counted and killed), record it, return its stdout."""
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        figures.hangs += 1
        out, err = child.communicate()
    if child.returncode != -signal.SIGKILL:
        record(figures, child.returncode, err)
    return out


def record(figures: FaultFigures, code: int, stderr: str) -> None:
    """Count one finished command: its exit code, and whether it was an internal error."""
    figures.commands += 1
    figures.exit_codes[str(code)] = figures.exit_codes.get(str(code), 0) + 1
    if code == 1 or "Traceback" in stderr or "internal error" in stderr:
        figures.internal_errors += 1
        figures.problems.append(f"internal error (exit {code}): {stderr.strip()[-400:]}")


def final_check(db: str, figures: FaultFigures, **settings: Any) -> None:
    """Catch up once (as any next start would), then `doctor --check`: money, stuck orders, orders."""
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.settings import load_settings

    try:
        Engine.open(load_settings(db=db, **settings)).close()  # opening catches up
    except Exception as exc:  # noqa: BLE001 - reported, and counted against the phase
        from deliverycli.engine.errors import DatabaseUnavailable

        figures.problems.append(f"catch-up failed: {type(exc).__name__}: {exc}")
        figures.internal_errors += not isinstance(exc, DatabaseUnavailable)  # else the check below says what is left
    doctor = cli(db, "doctor", "--check", "--json")
    if doctor.returncode not in (0, 1) or not doctor.stdout.strip():
        figures.problems.append(f"doctor failed: exit {doctor.returncode}: {doctor.stderr.strip()[-400:]}")
        figures.internal_errors += 1
        return
    report = json.loads(doctor.stdout)
    problems = report["invariants"]["problems"]
    figures.money_mismatches = sum(1 for p in problems if MONEY.search(p))
    figures.problems += problems
    statuses = report.get("orders_by_status", {})
    figures.orders = sum(statuses.values())
    lag = sum(s["lag"] for s in report["subscribers"])
    waiting = max(statuses.get("PENDING_PAYMENT", 0), report["pending_payments"])  # the same orders, seen twice
    figures.stuck = waiting + report["dead_letters"] + (1 if lag else 0)


# -- 1. payment calls paused with SIGSTOP --------------------------------------------------------------


def _newest_order(probe: Any) -> str | None:
    """The newest order's id, read directly (a CLI call would take longer than the payment call)."""
    import sqlalchemy as sa

    from deliverycli.engine.ordering.repository import orders

    with probe.read() as conn:
        return conn.execute(sa.select(sa.func.max(orders.c.id))).scalar()


def payment_pauses(db: str, rounds: int, rng: random.Random) -> FaultFigures:
    """Each round: a placement is paused (SIGSTOP) during its payment call, either briefly or past
    the payment timeout while another process places an order and recovers the interrupted one, then
    continued (SIGCONT), and sometimes SIGKILLed right after it wakes."""
    figures = FaultFigures("payment calls paused (SIGSTOP/SIGCONT)", "postgres" if "://" in db else "sqlite")
    started = time.perf_counter()
    env = os.environ | {"DELIVERYCLI_PAYMENT_LATENCY_MS": "900", "DELIVERYCLI_PAYMENT_TIMEOUT_S": "1", "NO_COLOR": "1"}
    grace_s = 1 + 5 + 0.5  # payment_timeout_s + checkout.IN_FLIGHT_GRACE_S, and a little more
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.settings import load_settings

    probe = Engine.open(load_settings(db=db), catch_up=False)
    for n in range(rounds):
        before = _newest_order(probe)
        argv = [sys.executable, "-m", "deliverycli", "--db", db, "orders", "place", "--customer", "alice", "--store", "pizza-palace",
                "--item", "margherita", "--address", f"{n} Pause St", "--json"]
        a = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        deadline = time.monotonic() + 60
        while _newest_order(probe) == before and a.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if a.poll() is None:
            os.kill(a.pid, signal.SIGSTOP)
            figures.faults += 1
            long_pause = n % 2 == 0
            if long_pause:
                time.sleep(grace_s)
                b = cli(db, "orders", "place", "--customer", "bob", "--store", "pizza-palace", "--item", "cola",
                        "--address", f"{n} Other St", "--json", env=env)
                record(figures, b.returncode, b.stderr)
            else:
                time.sleep(rng.uniform(0.1, 0.5))
            os.kill(a.pid, signal.SIGCONT)
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0.0, 0.5))
                a.kill()
                figures.faults += 1
        finished(figures, a, timeout=120)
    probe.close()
    # A placement killed in its payment call is resolved by the first catch-up after timeout + grace.
    time.sleep(grace_s)
    final_check(db, figures, payment_timeout_s=1)
    figures.notes = "payment latency 900 ms, timeout 1 s; every other pause outlives timeout + grace (6.5 s) while another placement recovers"
    figures.wall_time_s = round(time.perf_counter() - started, 1)
    return figures


# -- 2. a disk that fills up and is freed (SQLite on a private tmpfs) ----------------------------------


def disk_full(rounds: int, seed: int, tmp: Path) -> FaultFigures:
    """Runs `disk_driver` inside `unshare -rm` with a 64 MB tmpfs (room for the database and its WAL after six runs); returns its figures."""
    figures = FaultFigures("disk full, then freed", "sqlite")
    started = time.perf_counter()
    unshare = shutil.which("unshare")
    mnt = tmp / "mnt"
    mnt.mkdir(exist_ok=True)
    if unshare is None:
        figures.notes = "skipped: no `unshare`"
        return figures
    script = f'mount -t tmpfs -o size=64m tmpfs "$MNT" && "{sys.executable}" -m tests.reliability.fault_soak disk-driver "$MNT" {rounds} {seed}'
    proc = subprocess.run([unshare, "-rm", "sh", "-c", script], env=os.environ | {"MNT": str(mnt)}, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if proc.returncode != 0 or not proc.stdout.strip():
        figures.notes = f"skipped: the driver could not run here (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
        return figures
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    figures = FaultFigures(**data)
    figures.wall_time_s = round(time.perf_counter() - started, 1)
    return figures


def disk_driver(mnt: str, rounds: int, seed: int) -> None:
    """Inside the namespace: fill the tmpfs to a few hundred kB from full, run a simulation into
    it, free the space, resume; `doctor --check` at the end. Prints the figures as JSON."""
    rng = random.Random(seed)
    figures = FaultFigures("disk full, then freed", "sqlite")
    db = f"{mnt}/shop.db"
    init = cli(db, "init", "--demo", "--json")
    record(figures, init.returncode, init.stderr)
    filler = Path(mnt) / "filler"
    for n in range(rounds):
        free = shutil.disk_usage(mnt).free
        room = rng.randint(150, 600) * 1024
        with open(filler, "wb") as f:
            f.truncate(0)
            try:
                f.write(b"\0" * max(0, free - room))
            except OSError:
                pass
        run = cli(db, "--json", "simulate", "--orders", "120", "--seed", str(seed * 100 + n))
        record(figures, run.returncode, run.stderr)
        figures.faults += run.returncode == 7
        filler.unlink()
        for _ in range(5):  # space is back: finish what the full disk interrupted
            if not _unfinished_run(db):
                break
            resumed = cli(db, "--json", "simulate", "--resume")
            record(figures, resumed.returncode, resumed.stderr)
    final_check(db, figures)
    figures.notes = f"64 MB tmpfs filled to 150-600 kB from full before each of {rounds} simulate runs (120 orders), freed after"
    print(json.dumps(figures.as_dict()))


# -- 3. PostgreSQL backends terminated mid-run ---------------------------------------------------------


def with_application_name(db: str, name: str) -> str:
    return f"{db}{'&' if '?' in db else '?'}application_name={name}"


def terminated_backends(db: str, admin_url: str, terminations: int, seed: int) -> FaultFigures:
    """`simulate` runs while its PostgreSQL backends are terminated at random instants (as a server
    restart or an operator's pg_terminate_backend would); each cut-off run is resumed."""
    import sqlalchemy as sa

    figures = FaultFigures("PostgreSQL backends terminated", "postgres")
    started = time.perf_counter()
    rng = random.Random(seed)
    name = f"soak_term_{os.getpid()}"
    url = with_application_name(db, name)
    admin = sa.create_engine(admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    kill = sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name")
    run = 0
    try:
        while True:
            resume = _unfinished_run(url)
            args = ["--resume"] if resume else ["--orders", "300", "--seed", str(seed * 10 + run)]
            run += 0 if resume else 1
            child = subprocess.Popen([sys.executable, "-m", "deliverycli", "--db", url, "--json", "simulate", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=os.environ | {"NO_COLOR": "1"})
            while child.poll() is None and figures.faults < terminations:
                time.sleep(rng.uniform(0.3, 1.5))
                with admin.connect() as conn:
                    figures.faults += conn.execute(kill, {"name": name}).scalar_one() > 0
            finished(figures, child)
            if figures.faults >= terminations and child.returncode == 0 and not _unfinished_run(url):
                break
    finally:
        admin.dispose()
    final_check(url, figures)
    figures.notes = "simulate --orders 300 runs; its backends terminated every 0.3-1.5 s; resumed with --resume after each cut-off"
    figures.wall_time_s = round(time.perf_counter() - started, 1)
    return figures


# -- 4. a database host that falls silent (its packets dropped) ---------------------------------------


def silent_host(schema: str, silences: int, seed: int) -> FaultFigures:
    """Runs `silent_driver` in a private network namespace (`unshare -rn`); returns its figures."""
    figures = FaultFigures("database host silent (packets dropped)", "postgres")
    unshare, tc = shutil.which("unshare"), shutil.which("tc")
    if unshare is None or tc is None or not Path(PG_SOCKET_DIR, ".s.PGSQL.5432").exists():
        figures.notes = "skipped: needs `unshare`, `tc` and PostgreSQL's unix socket in " + PG_SOCKET_DIR
        return figures
    started = time.perf_counter()
    script = f'ip link set lo up && "{sys.executable}" -m tests.reliability.fault_soak silent-driver {schema} {silences} {seed}'
    proc = subprocess.run([unshare, "-rn", "sh", "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=3600)
    if proc.returncode != 0 or not proc.stdout.strip():
        figures.notes = f"skipped: the driver could not run here (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
        return figures
    figures = FaultFigures(**json.loads(proc.stdout.strip().splitlines()[-1]))
    figures.wall_time_s = round(time.perf_counter() - started, 1)
    return figures


def _proxy_to_unix_socket(path: str) -> int:
    """A TCP port on this namespace's loopback that forwards every connection to PostgreSQL's unix socket."""
    listener = socket.create_server(("127.0.0.1", 0))

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        while True:
            client, _ = listener.accept()
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(path)
            threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def _blackhole(on: bool) -> None:
    action = ["add", "dev", "lo", "root", "blackhole"] if on else ["del", "dev", "lo", "root"]
    subprocess.run(["tc", "qdisc", *action], check=True)


def silent_driver(schema: str, silences: int, seed: int) -> None:
    """Inside the namespace: `simulate` reaches PostgreSQL through a loopback proxy; at random
    instants the loopback drops every packet (`tc qdisc ... blackhole`) for 1.5 s (shorter than
    the engine's dead-host limit: the run carries on) or 10 s (longer: the command must fail with
    exit 7, not hang), then the host is back and the run resumes. Prints the figures as JSON."""
    rng = random.Random(seed)
    figures = FaultFigures("database host silent (packets dropped)", "postgres")
    port = _proxy_to_unix_socket(f"{PG_SOCKET_DIR}/.s.PGSQL.5432")
    url = f"postgresql://postgres@127.0.0.1:{port}/test?options=-csearch_path%3D{schema}"
    env = os.environ | {"NO_COLOR": "1", "DELIVERYCLI_CONNECT_TIMEOUT_S": "1"}
    os.environ["DELIVERYCLI_CONNECT_TIMEOUT_S"] = "1"  # the final check's catch-up, in this process
    cut_off = 0
    run = 0
    while True:
        resume = _unfinished_run(url)
        args = ["--resume"] if resume else ["--orders", "300", "--seed", str(seed * 10 + run)]
        run += 0 if resume else 1
        child = subprocess.Popen([sys.executable, "-m", "deliverycli", "--db", url, "--json", "simulate", *args],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        while child.poll() is None and figures.faults < silences:
            time.sleep(rng.uniform(0.5, 2.0))
            long = figures.faults % 2 == 1
            _blackhole(True)
            figures.faults += 1
            try:
                child.wait(timeout=10 if long else 1.5)
            except subprocess.TimeoutExpired:
                pass
            _blackhole(False)
        finished(figures, child, timeout=120)  # past the dead-host limit and any statement: a hang
        cut_off += child.returncode == 7
        if figures.faults >= silences and child.returncode == 0 and not _unfinished_run(url):
            break
    final_check(url, figures)
    figures.notes = (f"simulate --orders 300 through a loopback proxy; {silences} silences of 1.5 s or 10 s "
                     f"(dead-host limit: 4 x connect_timeout_s = 4 s); {cut_off} runs cut off with exit 7 and resumed")
    print(json.dumps(figures.as_dict()))


if __name__ == "__main__":
    if sys.argv[1] == "disk-driver":
        disk_driver(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "silent-driver":
        silent_driver(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
