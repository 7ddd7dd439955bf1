"""The console is written against deliverycli.backend.Backend; the local engine implements it,
method for method (names, parameters, defaults), so the console can run on it, or on another
implementation of the same protocol."""

from __future__ import annotations

import inspect
import typing
from typing import Any

from deliverycli import backend


def protocol_methods(protocol: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(protocol).items() if callable(fn) and not name.startswith("_")}


def test_the_local_engine_implements_every_group_of_the_console_backend(engine: Any) -> None:
    groups = typing.get_type_hints(backend.Backend)
    assert set(groups) == {"orders", "store", "deliveries", "catalog", "notifications", "events", "ops"}
    for group, protocol in groups.items():
        implementation = getattr(engine, group)
        for name, wanted in protocol_methods(protocol).items():
            have = inspect.signature(getattr(implementation, name))
            expected = [(p.name, p.default) for p in wanted.parameters.values() if p.name != "self"]
            assert [(p.name, p.default) for p in have.parameters.values()] == expected, f"{group}.{name}"
    assert callable(engine.close)


def test_the_check_compares_something() -> None:
    """Guard against a vacuous pass: every group of the protocol names methods."""
    assert all(protocol_methods(p) for p in typing.get_type_hints(backend.Backend).values())


def test_the_console_runs_on_the_backend_it_is_given(demo_db: str) -> None:
    """The console opens its backend through ``open_backend`` and shows what that backend answers:
    here the local engine, wrapped so the test sees every group the console uses."""
    from tui.conftest import async_test, make_app, started, wait_until

    used: set[str] = set()

    class Watched:
        """The local engine, noting which of its groups the console uses."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            used.add(name)
            return getattr(self.inner, name)

    def open_backend(settings: Any, *, readonly: bool) -> Any:
        return Watched(backend.open_local(settings, readonly=readonly))

    @async_test
    async def run() -> None:
        app = make_app(demo_db, "store", "pizza-palace", open_backend=open_backend)
        async with app.run_test(size=(120, 40)) as pilot:
            await started(pilot, "StoreScreen")
            await wait_until(pilot, lambda: {"catalog", "events", "store"} <= used)

    run()
    assert {"catalog", "events", "store"} <= used
