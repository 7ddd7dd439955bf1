"""The engine imports no UI library (nor an HTTP framework): a script that only uses the engine never
pays for textual, typer or rich (SPEC §1: library use)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import deliverycli.engine

ENGINE_DIR = Path(deliverycli.engine.__file__).parent
UI_LIBRARIES = ("textual", "typer", "rich")

SCRIPT = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
ui = sorted(m for m in sys.modules if m.split(".")[0] in {"textual", "typer", "rich", "fastapi", "starlette", "uvicorn"})
print(json.dumps({"ui": ui, "loaded": [n for n in sys.argv[1:] if n in sys.modules]}))
"""


def engine_modules() -> list[str]:
    """Every module of the engine package, its subpackages' included."""
    return sorted(m.name for m in pkgutil.walk_packages([str(ENGINE_DIR)], prefix="deliverycli.engine.") if ".migrations" not in m.name)


def run(modules: list[str]) -> dict[str, list[str]]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *modules], capture_output=True, text=True, timeout=60, cwd=ENGINE_DIR.parents[1])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_engine_modules_are_found() -> None:
    modules = engine_modules()
    for expected in ("bootstrap", "messagebus", "eventlog", "ordering.checkout", "payment.service", "store", "delivery", "status", "notification", "lifecycle"):
        assert f"deliverycli.engine.{expected}" in modules


def test_importing_the_engine_pulls_in_no_ui_library() -> None:
    modules = ["deliverycli", "deliverycli.engine.bootstrap", *engine_modules(), "deliverycli.settings"]
    result = run(modules)
    assert set(result["loaded"]) == set(modules)
    assert result["ui"] == [], f"engine imports pulled in UI modules: {result['ui']}"


def test_the_check_itself_would_notice_a_ui_import() -> None:
    """Guard against a vacuous pass: importing a UI library is seen by the same probe."""
    result = run(["typer"])
    assert "typer" in result["ui"]
