"""A read-only query (`status`, `orders list`, ...) only looks: it opens the engine without catching
up, so it loads no command side (message bus, payment service, pybreaker, every context's handlers)
and writes nothing; the next command that writes finishes what was left, as before (SPEC §6).
What a cold start of the CLI pays for is measured by benchmarks/bench_cli_cold_start.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.commands import AcceptOrder
from deliverycli.settings import load_settings

from .support import open_engine, place

# Runs the real CLI entry point in a fresh interpreter, then reports every module it loaded.
SCRIPT = """
import json, sys
from deliverycli.cli import main
main(sys.argv[1:])
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)))
"""

COMMAND_SIDE = (
    "pybreaker",
    "textual",
    "deliverycli.engine.messagebus",
    "deliverycli.engine.payment",
    "deliverycli.engine.ordering",
    "deliverycli.engine.store",
    "deliverycli.engine.delivery",
    "deliverycli.engine.notification",
)


def modules_loaded_by(*argv: str) -> tuple[str, set[str]]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *argv], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, set(json.loads(proc.stderr.rsplit("MODULES ", 1)[1]))


@pytest.mark.parametrize(
    ("argv", "group"),
    [(("status", "ORDER", "--json"), "status"), (("orders", "list", "--json"), "orders")],
    ids=["status", "orders-list"],
)
def test_a_query_loads_neither_the_command_side_nor_other_commands(demo_db: str, argv: tuple[str, ...], group: str) -> None:
    order = place(demo_db)
    stdout, modules = modules_loaded_by("--db", demo_db, *(order if a == "ORDER" else a for a in argv))
    shown = json.loads(stdout)
    assert (shown["id"] if group == "status" else shown[0]["id"]) == order
    loaded = sorted(m for m in modules if m.split(".")[0] in COMMAND_SIDE or any(m == c or m.startswith(c + ".") for c in COMMAND_SIDE))
    assert loaded == [], f"`{' '.join(argv)}` loaded {loaded}"
    assert {m for m in modules if m.startswith("deliverycli.commands.")} == {f"deliverycli.commands.{group}"}


def test_a_query_shows_the_views_as_they_are_and_the_next_write_catches_up(demo_db: str, cli) -> None:
    order = place(demo_db)
    with open_engine(demo_db) as engine:
        # the store accepts, and the process dies before any subscriber has seen it
        engine.handle(AcceptOrder(order, "pizza-palace"), settle=False)
        lag = engine.ops.lag()
    assert lag["status"] > 0 and lag["ordering"] > 0

    shown, listed = cli("status", order, "--json", db=demo_db), cli("orders", "list", "--json", db=demo_db)
    assert shown.code == listed.code == 0
    assert shown.json["status"] == listed.json[0]["status"] == "PAID"  # the status view has not seen CookingStarted
    with Engine.open(load_settings(db=demo_db), catch_up=False) as engine:
        assert engine.ops.lag() == lag  # the queries wrote nothing

    added = cli("riders", "add", "--id", "rider-new", "--name", "New Rider", "--json", db=demo_db)  # any command that writes
    assert added.code == 0, added.stderr
    with Engine.open(load_settings(db=demo_db), catch_up=False) as engine:
        assert set(engine.ops.lag().values()) == {0}
    assert cli("status", order, "--json", db=demo_db).json["status"] == "COOKING"


def test_status_and_version_skip_typers_pydantic_conversion(demo_db: str) -> None:
    """`status ORDER` has only text and flags: they reach the command as typed, without Typer's
    pydantic TypeAdapters (0.18 of the stack's own import time, see the cold-start benchmark).
    `--version` builds no command at all. A number still goes through Typer's conversion."""
    order = place(demo_db)
    stdout, modules = modules_loaded_by("--db", demo_db, "status", order, "--json")
    assert json.loads(stdout)["id"] == order
    assert "typer._adapters" not in modules
    stdout, modules = modules_loaded_by("--version")
    assert stdout.startswith("deliverycli ")
    assert "typer._adapters" not in modules and not any(m.startswith("deliverycli.commands") for m in modules)
    stdout, modules = modules_loaded_by("--db", demo_db, "orders", "list", "--limit", "1", "--json")
    assert [o["id"] for o in json.loads(stdout)] == [order]
    assert "typer._adapters" in modules  # --limit is an integer: Typer converts and checks it


def test_help_loads_no_engine_storage_asyncio_or_network_stack() -> None:
    """`--help` registers every command group, so a group's module-level import is paid by every
    `--help` (the relay's asyncio was ~25 ms of its ~140): heavy imports belong inside commands."""
    stdout, modules = modules_loaded_by("--help")
    assert "relay" in stdout and "worker" in stdout
    heavy = {"asyncio", "ssl", "socket", "sqlalchemy", "pydantic", "rich", "textual"}
    assert heavy.isdisjoint({m.split(".")[0] for m in modules}), sorted(heavy & {m.split(".")[0] for m in modules})


def test_text_values_arrive_exactly_as_typed(cli, demo_db: str) -> None:
    """Passing text through unconverted keeps it byte for byte: spaces, unicode, a leading dash."""
    odd = "  ord-ümlaut 42 "
    result = cli("status", odd, "--json", db=demo_db)
    assert result.code == 3, result.stdout
    assert repr(odd) in result.json["error"]["message"]  # the id looked up is the one typed
    bad = cli("orders", "list", "--limit", "many", "--json", db=demo_db)
    assert bad.code == 2 and bad.json["error"]["code"] == "usage"  # numbers are still checked by Typer


def test_status_imports_only_its_api_group_and_read_models(demo_db: str) -> None:
    """The API groups and the read models are imported on first use (see the cold-start benchmark):
    `status` loads the orders group and the order models, not the other groups (tokens, webhooks,
    timers, ...), the other areas' models, the event models, the command dataclasses or the catalog."""
    order = place(demo_db)
    stdout, modules = modules_loaded_by("--db", demo_db, "status", order, "--json")
    assert json.loads(stdout)["id"] == order
    assert {m for m in modules if m.startswith("deliverycli.engine.api.")} == {"deliverycli.engine.api._base", "deliverycli.engine.api.orders"}
    assert {m for m in modules if m.startswith("deliverycli.engine.views.")} == {"deliverycli.engine.views.model", "deliverycli.engine.views.orders"}
    assert modules.isdisjoint({"deliverycli.engine.events", "deliverycli.engine.commands", "deliverycli.engine.catalog"})


def test_each_api_group_is_made_once_on_first_use(demo_db: str) -> None:
    with Engine.open(load_settings(db=demo_db), catch_up=False) as engine:
        assert "webhooks" not in vars(engine)
        assert engine.webhooks is engine.webhooks
        assert type(engine.webhooks).__name__ == "Webhooks" and engine.webhooks.engine is engine
