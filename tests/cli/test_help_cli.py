"""Every command's --help, as a user sees it: plain metavars (TEXT, ORDER, MENU_ID[:QTY]), never a
Python type (<str>, <bool>, <list[str]>); a description on every option and argument; no internal
wording. The command list is read from the CLI itself, so a new command is checked too."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer

from tests.cli.support import run_all

# A Python type as this Typer prints it: <str>, <bool>, <list[str]>, <int range>, <a|b>.
PYTHON_TYPE = re.compile(r"<[A-Za-z_][\w\[\], |.]*>")
# Words of the implementation that mean nothing to someone running the console.
INTERNAL_WORDING = re.compile(r"\(the /\w+ route\)|/statusChecks|\bCQRS\b")


def _tree() -> Any:
    from deliverycli.cli import _register, app, plain_metavars

    _register()  # every group, as `deliverycli --help` sees them
    command = typer.main.get_command(app)
    plain_metavars(command)
    return command


def _walk(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _walk(sub, (*path, name))
    return found


COMMANDS = _walk(_tree())


def test_the_walk_finds_every_documented_command() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    assert {"", "orders place", "orders cancel", "status", "deliveries list", "store accept", "tui", "doctor", "simulate"} <= paths
    assert len(paths) > 35  # groups and their commands; a broken walk would find a handful


@pytest.mark.parametrize("path", [" ".join(p) or "(root)" for p, _ in COMMANDS])
def test_every_parameter_and_command_is_described(path: str) -> None:
    command = dict((" ".join(p) or "(root)", c) for p, c in COMMANDS)[path]
    ctx = typer.Context(command)
    undescribed = [p.name for p in command.get_params(ctx) if not (p.help or "").strip()]
    assert not undescribed, f"`deliverycli {path}`: no help text for {undescribed}"
    text = command.help or ""
    assert text.strip(), f"`deliverycli {path}` has no description"
    first_word = (path.split() or [""])[-1]
    assert not text.lower().startswith(f"{first_word}:"), f"`deliverycli {path}` help starts with its own name: {text[:60]!r}"
    for param in command.get_params(ctx):
        assert not INTERNAL_WORDING.search(param.help or ""), (path, param.name, param.help)
    assert not INTERNAL_WORDING.search(text), (path, text)


def test_every_help_page_shows_plain_metavars(cli) -> None:
    """Each `--help` through a real process, 80 columns wide: no Python type anywhere, and every
    command's summary whole in its group's list."""
    calls = [(*path, "--help", {"env": {"COLUMNS": "80"}}) for path, _ in COMMANDS]
    results = run_all(cli, calls)
    assert len(results) == len(COMMANDS)
    for (path, _), result in zip(COMMANDS, results, strict=True):
        where = f"deliverycli {' '.join(path)} --help"
        assert result.code == 0, (where, result.stderr)
        assert "Usage:" in result.stdout, where
        assert not PYTHON_TYPE.search(result.stdout), f"{where} shows a Python type: {PYTHON_TYPE.findall(result.stdout)}"
        assert not INTERNAL_WORDING.search(result.stdout), f"{where}: {INTERNAL_WORDING.findall(result.stdout)}"
        listed = result.stdout.partition("\nCommands:\n")[2]
        assert "..." not in listed, f"{where}: a command's summary is cut; keep its first sentence short:\n{listed}"


def test_metavars_name_what_to_type(cli) -> None:
    place = cli("orders", "place", "--help", env={"COLUMNS": "120"})
    assert re.search(r"--item\s+MENU_ID\[:QTY\]", place.stdout), place.stdout
    assert re.search(r"--customer\s+CUSTOMER", place.stdout), place.stdout
    root = cli("--help", env={"COLUMNS": "120"})
    assert re.search(r"--json\s+Print JSON", root.stdout), root.stdout  # a flag takes no value: no metavar
    status = cli("status", "--help", env={"COLUMNS": "120"})
    assert re.search(r"ORDER\s+The order's id", status.stdout), status.stdout
