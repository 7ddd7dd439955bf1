"""Real CLI processes, fast and at the same instant.

``fork_cli`` forks this (already warmed-up) test process and runs ``deliverycli.cli.main`` in the
child with its own stdout, stderr and environment: a separate process on the database, exactly the
CLI's code path from argument parsing to the exit code, without paying ~1 s of interpreter start-up
per run. ``start_at`` holds every child of a batch until the same instant, so racing commands hit
the database together (a plain ``subprocess`` start-up jitters by far more than a transaction lasts).
The tests still run the installed `python -m deliverycli` for a sample (see tests/conftest.py's
``cli``), so nothing here stands in for the real entry point.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CHILD_ENV = {"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}


def warm_up() -> None:
    """Import the CLI and every command module once, in the parent, so children start at once."""
    from deliverycli import cli
    from deliverycli.commands import GROUPS

    for module_name, *_ in GROUPS:
        importlib.import_module(f"deliverycli.commands.{module_name}")
    importlib.import_module("deliverycli.engine.bootstrap")
    importlib.import_module("deliverycli.engine.invariants")
    assert cli.main


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    argv: tuple[str, ...] = ()
    started: float = 0.0
    ended: float = 0.0

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def error(self) -> dict[str, Any]:
        return self.json["error"]


@dataclass
class _Child:
    pid: int
    out: Any
    err: Any
    timing: Any
    argv: tuple[str, ...]


def _child(argv: Sequence[str], env: dict[str, str], out: int, err: int, timing: int, start_at: float | None) -> None:
    code = 70
    try:
        os.environ.update(CHILD_ENV | env)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if start_at is not None:
            time.sleep(max(0.0, start_at - time.time()))
        started = time.time()
        from deliverycli.cli import main

        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        os.write(timing, f"{started} {time.time()}".encode())
    except BaseException:  # noqa: BLE001 - a traceback here is what the tests look for
        traceback.print_exc()
        code = 70
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def spawn(argv: Sequence[str], *, db: str | None = None, env: dict[str, str] | None = None, start_at: float | None = None) -> _Child:
    full = (["--db", db] if db is not None else []) + list(argv)
    out, err, timing = (tempfile.TemporaryFile() for _ in range(3))
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(full, env or {}, out.fileno(), err.fileno(), timing.fileno(), start_at)
    return _Child(pid, out, err, timing, tuple(full))


def collect(child: _Child, timeout: float = 120) -> Result:
    deadline = time.monotonic() + timeout
    while True:
        pid, status = os.waitpid(child.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.kill(child.pid, signal.SIGKILL)
            os.waitpid(child.pid, 0)
            raise AssertionError(f"deliverycli {' '.join(child.argv)} did not finish within {timeout}s")
        time.sleep(0.005)
    code = os.waitstatus_to_exitcode(status)
    texts = []
    for f in (child.out, child.err, child.timing):
        f.seek(0)
        texts.append(f.read().decode("utf-8", errors="replace"))
        f.close()
    started, ended = (float(x) for x in texts[2].split()) if texts[2] else (0.0, 0.0)
    return Result(code, texts[0], texts[1], child.argv, started, ended)


def fork_cli(*argv: str, db: str | None = None, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    """One CLI run in a forked process; asserts it printed no traceback."""
    result = collect(spawn(argv, db=db, env=env), timeout)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    return result


def race(calls: Sequence[Sequence[str]], *, db: str, env: dict[str, str] | None = None, delay: float = 0.3, timeout: float = 120) -> list[Result]:
    """Several CLI processes started at the same instant; results in order, none with a traceback."""
    start_at = time.time() + delay
    children = [spawn(argv, db=db, env=env, start_at=start_at) for argv in calls]
    results = [collect(child, timeout) for child in children]
    for result in results:
        assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    return results


def overlapped(results: Sequence[Result]) -> bool:
    """Whether the runs were all under way at one moment (each started before any of them ended)."""
    return max(r.started for r in results) < min(r.ended for r in results)
