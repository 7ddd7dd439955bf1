"""One Typer sub-app per command group, mirroring the seed's gateway routes."""

from __future__ import annotations

import importlib

import typer

# (module, command name[, attribute]); each module defines `app` (a group) or `command` (a single
# command); a module defining several groups names the Typer app to register as a third element.
GROUPS = (
    ("orders", "orders"),
    ("init", "init"),
    ("catalog", "stores", "stores_app"),
    ("catalog", "customers", "customers_app"),
    ("catalog", "riders", "riders_app"),
    ("catalog", "menus", "menus_app"),
    ("doctor", "doctor"),
    ("config", "config"),
    ("deadletters", "deadletters"),
    ("store", "store"),
    ("deliveries", "deliveries"),
    ("payments", "payments"),
    ("status", "status"),
    ("notifications", "notifications"),
    ("events", "events"),
    ("simulate", "simulate"),
    ("views", "views"),
    ("tui", "tui"),
)


def register(root: typer.Typer) -> None:
    for module_name, name, *attribute in GROUPS:
        module = importlib.import_module(f"{__name__}.{module_name}")
        if attribute:
            root.add_typer(getattr(module, attribute[0]), name=name)
        elif hasattr(module, "app"):
            root.add_typer(module.app, name=name)
        else:
            root.command(name=name, help=module.__doc__)(module.command)
