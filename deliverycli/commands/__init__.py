"""One Typer sub-app per command group, mirroring the seed's gateway routes."""

from __future__ import annotations

import importlib

import typer

# (module, command name); each module defines `app` (a group) or `command` (a single command).
GROUPS = (
    ("orders", "orders"),
)


def register(root: typer.Typer) -> None:
    for module_name, name in GROUPS:
        module = importlib.import_module(f"{__name__}.{module_name}")
        if hasattr(module, "app"):
            root.add_typer(module.app, name=name)
        else:
            root.command(name=name, help=module.__doc__)(module.command)
