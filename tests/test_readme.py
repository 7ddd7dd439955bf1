"""The README's tour works as written: its shell blocks run in order, and its Python snippet runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks(language: str, start: str, end: str) -> list[str]:
    text = README.read_text()
    section = text[text.index(start) : text.index(end)]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def test_readme_tour_runs_as_written(tmp_path: Path) -> None:
    lines = []
    for block in _blocks("sh", "## A tour of the CLI", "### PostgreSQL"):
        # `--follow` streams until Ctrl+C; the tests of `events tail` cover it.
        lines += [line for line in block.replace("\\\n", " ").splitlines() if "--follow" not in line]
    script = "set -euo pipefail\n" + "\n".join(lines) + "\n"
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "NO_COLOR": "1"}
    env.pop("DELIVERYCLI_DB", None)
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "CONFIRMED" in proc.stdout
    assert "REFUNDED" in proc.stdout


def test_readme_python_snippet_runs(tmp_path: Path) -> None:
    (snippet,) = _blocks("python", "### Scripting", "### PostgreSQL")
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "COOKING"


def test_readme_curl_tour_runs_as_written(tmp_path: Path) -> None:
    """The gateway's curl tour, on a free port instead of 8000: every call succeeds (--fail-with-body)."""
    import socket

    (block,) = _blocks("sh", "### A curl tour", "### How a store's tablet")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    script = "set -euo pipefail\n" + block.replace("8000", port).replace("kill %1", "kill %1; wait %1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELIVERYCLI_")}
    env |= {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "NO_COLOR": "1", "DELIVERYCLI_CONFIG": str(tmp_path / "none.toml")}
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert '"status":"CONFIRMED"' in proc.stdout and '"timeline"' in proc.stdout
