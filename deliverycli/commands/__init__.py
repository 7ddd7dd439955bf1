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
    ("relay", "relay"),
    ("webhooks", "webhooks"),
    ("payment_provider", "payment-provider"),
    ("tokens", "tokens"),
    ("serve", "serve"),
    ("worker", "worker"),
)


def register(root: typer.Typer, command: str | None = None) -> None:
    """Register the command groups on the root app. Given the command word of the line being run
    (``status`` in ``deliverycli status X``), only its group when it names one: a run then imports
    and builds one command module, not all of them (a cold start pays for both). Otherwise (no
    command, ``--help``, an unknown word) all of them, so help and errors list every command."""
    names = {name for _, name, *_ in GROUPS}
    for module_name, name, *attribute in GROUPS:
        if command in names and name != command:
            continue
        module = importlib.import_module(f"{__name__}.{module_name}")
        if attribute:
            root.add_typer(getattr(module, attribute[0]), name=name)
        elif hasattr(module, "app"):
            root.add_typer(module.app, name=name)
        else:  # its help is the function's docstring, written for the user (the module's is for readers of the code)
            root.command(name=name)(module.command)
