"""The examples in examples/ run end to end: the CLI walkthrough and the library example."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _cli_command() -> str:
    """The venv's console script next to this interpreter, else `python -m deliverycli`."""
    script = Path(sys.executable).parent / "deliverycli"
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m deliverycli"


def _env() -> dict[str, str]:
    # The python3 the walkthrough reads JSON with: this interpreter, first on PATH.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return os.environ | {"NO_COLOR": "1", "COLUMNS": "200", "PYTHON": sys.executable, "PATH": path}


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_walkthrough_script(tmp_path: Path) -> None:
    db = tmp_path / "walkthrough.db"
    proc = subprocess.run(
        ["bash", str(EXAMPLES / "walkthrough.sh"), str(db)],
        capture_output=True, text=True, timeout=120, env=_env() | {"DELIVERYCLI": _cli_command()}, cwd=tmp_path,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr
    for line in (
        "ord-000001 is PAID",
        "ord-000001: COOKING",
        "ord-000001: delivered by rider-kim",
        "timeline: PENDING_PAYMENT PAID COOKING READY_FOR_PICKUP DELIVERING DELIVERED CONFIRMED",
        "7 notifications; last:",
        "ord-000002: CANCELLED, payment REFUNDED",
        "ord-000003: still COOKING",
        "ord-000004: REJECTED, not in green-bowl's queue",
        "ord-000006: CANCELLED (",
        "== the event log: events tail --limit 5",
        "walkthrough passed",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"
    assert db.exists()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_walkthrough_reports_a_failure_and_cleans_up(tmp_path: Path) -> None:
    """A CLI that answers wrongly makes the script say which check failed and exit 1; without a
    database argument it uses a temporary one and removes it (also on failure)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "fake-deliverycli"
    fake.write_text("#!/bin/sh\necho '[]'\n")
    fake.chmod(0o755)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.run(
        ["bash", str(EXAMPLES / "walkthrough.sh")],
        capture_output=True, text=True, timeout=60, env=_env() | {"DELIVERYCLI": str(fake), "TMPDIR": str(scratch)},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED: stores: expected 'green-bowl pizza-palace seoul-bbq', got ''" in proc.stderr
    assert "command: deliverycli stores list" in proc.stderr
    assert list(scratch.iterdir()) == [], "the temporary database directory was left behind"


def test_library_example(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "library_example.py"), str(db)],
        capture_output=True, text=True, timeout=120, env=_env(), cwd=tmp_path,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    for line in (
        "ord-000001 is PAID",
        "timeline PENDING_PAYMENT > PAID > COOKING > READY_FOR_PICKUP > DELIVERING > DELIVERED > CONFIRMED",
        "alice got 7 notifications, one per status change",
        "CANCELLED, payment REFUNDED",
        "was refused (exit code 4)",
        "declined card (exit code 6)",
        "all scenarios passed",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"


def test_demo_intro(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    import deliverycli

    deliverycli.initialise(str(db), demo=True).close()
    proc = subprocess.run(
        [sys.executable, "-m", "deliverycli.demo_intro", str(db)],
        capture_output=True, text=True, timeout=60, env=_env(), cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert str(db) in out
    assert "3 stores" in out and "5 customers" in out and "3 riders" in out
    assert "orders place --customer alice --store pizza-palace --item margherita:2" in out
    assert "store accept ord-000001 --store pizza-palace" in out
    assert "events tail --follow" in out
    missing = subprocess.run([sys.executable, "-m", "deliverycli.demo_intro", str(tmp_path / "nope.db")], capture_output=True, text=True, timeout=60, env=_env())
    assert missing.returncode == 1
    assert "init --demo" in missing.stdout and "Traceback" not in missing.stderr
