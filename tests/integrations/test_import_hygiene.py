"""Plain CLI paths import none of the heavy optional libraries (fastapi, uvicorn, httpx, nats, stamina):
not registering every command, not placing an order, not the help of the commands that use them.
Only the commands (or the setting) that need one load it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("fastapi", "uvicorn", "httpx", "nats", "starlette", "sse_starlette", "prometheus_client", "stamina")


def imported_by_cli(args: list[str], env: dict[str, str] | None = None) -> tuple[Any, set[str]]:
    """Run the real CLI under ``-X importtime``; returns its result and the top-level packages it imported."""
    import os

    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "deliverycli", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=os.environ | {"NO_COLOR": "1"} | (env or {}))
    modules = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return proc, modules


def test_registering_every_command_and_placing_an_order_imports_no_heavy_library(tmp_path: Path) -> None:
    db = str(tmp_path / "plain.db")
    assert imported_by_cli(["--db", db, "init", "--demo"])[0].returncode == 0
    for args in (["--help"], ["--db", db, "orders", "place", "--customer", "alice", "--store", "pizza-palace", "--item", "cola", "--address", "A"],
                 ["relay", "--help"], ["payment-provider", "serve", "--help"], ["--db", db, "doctor"],
                 ["--db", db, "tokens", "create", "--role", "ops"], ["--db", db, "tokens", "list"], ["serve", "--help"],
                 ["--db", db, "webhooks", "add", "https://example.test/hook"], ["--db", db, "webhooks", "list"], ["webhooks", "deliver", "--help"],
                 ["--db", db, "webhooks", "deliveries"], ["--db", db, "deadletters", "list"]):
        proc, modules = imported_by_cli(args)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr[-2000:])
        assert "deliverycli" in modules, "the probe saw the CLI's own imports"
        assert not modules & set(HEAVY), (args, sorted(modules & set(HEAVY)))


def test_the_probe_sees_httpx_where_the_http_gateway_is_asked_for(tmp_path: Path) -> None:
    """Guard against a vacuous pass: the same probe notices the HTTP gateway's client."""
    db = str(tmp_path / "http.db")
    assert imported_by_cli(["--db", db, "init", "--demo"])[0].returncode == 0
    place = ["--db", db, "orders", "place", "--customer", "alice", "--store", "pizza-palace", "--item", "cola", "--address", "A"]
    proc, modules = imported_by_cli(place, env={"DELIVERYCLI_PAYMENT_GATEWAY": "http", "DELIVERYCLI_PAYMENT_URL": "http://127.0.0.1:9", "DELIVERYCLI_PAYMENT_API_KEY": "sk_unused"})
    assert proc.returncode == 6, proc.stderr[-2000:]  # nothing listens there: payment unavailable
    assert "httpx" in modules and not modules & {"fastapi", "uvicorn", "nats"}


def test_the_probe_sees_the_web_framework_where_serve_runs(tmp_path: Path) -> None:
    """Guard against a vacuous pass: `serve` itself loads FastAPI (here it stops at a port already taken)."""
    import socket

    db = str(tmp_path / "serve.db")
    assert imported_by_cli(["--db", db, "init", "--demo"])[0].returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        proc, modules = imported_by_cli(["--db", db, "serve", "--port", str(taken.getsockname()[1])])
    assert proc.returncode == 4, proc.stderr[-2000:]  # cannot listen: a conflict
    assert {"fastapi", "starlette"} <= modules
