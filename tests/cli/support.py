"""Helpers for the CLI tests: setup through the engine (just another process on the database), a
snapshot of everything a command could change, to prove bad input changes nothing, the check of a
JSON error document, and independent CLI runs side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from deliverycli.engine.bootstrap import Engine
from deliverycli.output import jsonable
from deliverycli.settings import load_settings


def open_engine(db: str) -> Engine:
    return Engine.open(load_settings(db=db))


def place(db: str, customer: str = "alice", store: str = "pizza-palace", items: tuple[str, ...] = ("margherita:2",)) -> str:
    with open_engine(db) as engine:
        return engine.orders.place(customer, store, list(items), "1 Main St").id


def snapshot(db: str) -> dict[str, Any]:
    """Everything a command could change, read in-process (no catch-up), as the CLI's --json prints
    it: the event log, every context's read side and the catalog."""
    with Engine.open(load_settings(db=db), catch_up=False) as engine:
        stores = engine.catalog.stores()
        return jsonable_all({
            "head": engine.events.head(),
            "events": engine.events.latest(1000),
            "orders": engine.orders.list(limit=1000),
            # every store's queue (the catalog may be empty: a store that does not exist has no queue)
            "queues": {s.id: engine.store.queue(s.id) for s in stores},
            "deliveries": engine.deliveries.list(),
            "payments": engine.payments.list(1000),
            "notifications": engine.notifications.list(limit=1000),
            "stores": stores,
            "customers": engine.catalog.customers(),
            "riders": engine.catalog.riders(),
            "menu": engine.catalog.menu(),
        })


def jsonable_all(data: dict[str, Any]) -> dict[str, Any]:
    return {key: {k: jsonable(v) for k, v in value.items()} if isinstance(value, dict) else jsonable(value) for key, value in data.items()}


def assert_error(result: Any, exit_code: int, *fragments: str) -> dict[str, Any]:
    """A JSON error document on stdout with the given exit code, a code, and a message naming every fragment."""
    assert result.code == exit_code, (result.code, result.stdout, result.stderr)
    error = result.json["error"]
    assert set(error) >= {"code", "message"} and error["code"] and error["message"], error
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    return error


Call = tuple[Any, ...]  # CLI arguments, optionally ending with a dict of this run's own keywords (db=, env=)


def run_all(cli: Callable[..., Any], calls: Sequence[Call], **shared: Any) -> list[Any]:
    """Independent CLI runs side by side (each is a real subprocess); results in order.

    Each call is a tuple of arguments; the keywords given here (``db=``, ``env=``) go to every run,
    and a dict at the end of a call adds to or overrides them for that run alone:
    ``run_all(cli, [("doctor",), ("config", "show", {"env": env})], db=db)``."""

    def run(call: Call) -> Any:
        if call and isinstance(call[-1], dict):
            return cli(*call[:-1], **(shared | call[-1]))
        return cli(*call, **shared)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(run, calls))
