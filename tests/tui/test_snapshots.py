"""Screenshots of every view at 80×24 and 120×40 (and one with NO_COLOR), compared with the
approved ones in __snapshots__/ (pytest-textual-snapshot). Times are masked and the clock is
frozen, so a snapshot depends only on the seeded database."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_app, on_screen, press, settle, wait_until
from .scenario import SNAPSHOT_DELAY, seed, snapshot_time

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    import deliverycli

    folder = tmp_path_factory.mktemp("seeded")
    engine = deliverycli.initialise(str(folder / "shop.db"), demo=True)
    seed(engine)
    frozen = snapshot_time(engine)
    engine.close()
    return folder, frozen


@pytest.fixture
def snapshot_app(seeded: tuple[Path, Any], tmp_path: Path) -> Callable[..., Any]:
    """An app on a fresh copy of the seeded database: no polling, no motion, times masked, clock frozen."""
    folder, frozen = seeded

    def open_backend(settings: Any, readonly: bool = False) -> Any:
        # The engine's own clock stays at the seeding: however long the suite takes, no deadline of the
        # seeded orders falls due and fires (the views still judge them against the frozen clock).
        from deliverycli.engine.bootstrap import Engine
        from deliverycli.engine.clock import ManualClock

        return Engine.open(settings, catch_up=not readonly, clock=ManualClock(frozen - SNAPSHOT_DELAY))

    def make(role: str | None = None, actor: str | None = None) -> Any:
        for file in folder.iterdir():
            shutil.copy(file, tmp_path / file.name)
        app = make_app(str(tmp_path / "shop.db"), role, actor, poll_interval=None, mask_times=True, clock=lambda: frozen, open_backend=open_backend)
        # No motion: a relabelled tab moves its underline after a 20 ms timer when animated, which the
        # harness's wait for animations can miss; the picture would then depend on the machine's speed.
        app.motion_level = "none"
        return app

    return make


def ready(screen_name: str, *keys: str, then: Callable[[Any], Any] | None = None) -> Callable[[Any], Any]:
    """A run_before: wait for the view and its data, press keys, wait again."""

    async def run_before(pilot: Any) -> None:
        await on_screen(pilot, screen_name)
        await settle(pilot)
        if keys:
            await press(pilot, *keys)
            await settle(pilot)
        if then is not None:
            await then(pilot)
            await settle(pilot)

    return run_before


async def table_filled(pilot: Any, *table_ids: str) -> None:
    """Wait until every one of the tables has rows, then for the layout that follows (column widths)."""
    from textual.widgets import DataTable

    for table_id in table_ids:
        await wait_until(pilot, lambda: pilot.app.screen.query_one(f"#{table_id}", DataTable).row_count > 0, what=table_id)
    await pilot.pause()


async def underline_settled(pilot: Any) -> None:
    """Wait until the tab underline spans the active tab's label as it now reads ("1 New (2)")."""
    from textual.widgets import Tabs

    def spans_active_label() -> bool:
        tabs = pilot.app.screen.query_one(Tabs)
        underline, active = tabs.query_one("Underline"), tabs.active_tab
        span = active.virtual_region.shrink(active.styles.gutter).column_span if active else (0, 0)
        return (underline.highlight_start, underline.highlight_end) == span

    await wait_until(pilot, spans_active_label, what="the tab underline under the active tab")


async def store_ready(pilot: Any) -> None:
    await table_filled(pilot, "new-table")
    await underline_settled(pilot)


VIEWS: dict[str, tuple[str | None, str | None, Callable[[Any], Any]]] = {
    "role_picker": (None, None, ready("RolePickerScreen")),
    "customer_shop": ("customer", "alice", ready("CustomerScreen", then=lambda p: _fill_cart(p, "plus", "plus", "down", "down", "down", "plus"))),
    "customer_orders": ("customer", "alice", ready("CustomerScreen", "2", then=lambda p: table_filled(p, "order-table"))),
    "order_detail": ("customer", "alice", ready("CustomerScreen", "2", then=lambda p: _open_first_order(p))),
    "store": ("store", "pizza-palace", ready("StoreScreen", then=store_ready)),
    "rider": ("rider", "rider-lee", ready("RiderScreen", then=lambda p: table_filled(p, "mine"))),
    "feed": ("feed", None, ready("FeedScreen")),
    "ops": ("ops", None, ready("OpsScreen", then=lambda p: table_filled(p, "counts", "subscribers", "stuck"))),
}


async def _fill_cart(pilot: Any, *keys: str) -> None:
    """Pizza Palace's menu (cola, garlic bread, margherita, pepperoni by id), then ``keys``."""
    from .conftest import rows

    await press(pilot, "down")
    await wait_until(pilot, lambda: rows(pilot.app, "menu") and rows(pilot.app, "menu")[0][0] == "Cola", what="Pizza Palace's menu")
    await press(pilot, "tab")
    await wait_until(pilot, lambda: pilot.app.focused is not None and pilot.app.focused.id == "menu")
    await press(pilot, *keys)


async def _open_first_order(pilot: Any) -> None:
    await table_filled(pilot, "order-table")
    await wait_until(pilot, lambda: pilot.app.focused is not None and pilot.app.focused.id == "order-table")
    await press(pilot, "enter")  # the newest: ord-000009, delivered, waiting for the customer's confirmation
    await on_screen(pilot, "OrderDetailScreen")
    await table_filled(pilot, "timeline")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("view", list(VIEWS))
def test_view(view: str, size: tuple[int, int], snapshot_app: Callable[..., Any], snap_compare: Any) -> None:
    role, actor, run_before = VIEWS[view]
    assert snap_compare(snapshot_app(role, actor), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("view", ["customer_shop", "customer_orders", "store", "rider", "ops"])
def test_view_in_a_small_terminal(view: str, snapshot_app: Callable[..., Any], snap_compare: Any) -> None:
    """60x20, below the designed 80x24: a compact footer with short labels, the customer's total
    pane hidden (the cart's border says the total), nothing cut in the middle of a word."""
    role, actor, run_before = VIEWS[view]
    assert snap_compare(snapshot_app(role, actor), terminal_size=(60, 20), run_before=run_before)


def test_empty_tables_say_what_to_do(snapshot_app: Callable[..., Any], snap_compare: Any) -> None:
    """A rider with no delivery of their own (rider-park): the table says how one gets there."""
    assert snap_compare(snapshot_app("rider", "rider-park"), terminal_size=(80, 24), run_before=ready("RiderScreen", then=lambda p: table_filled(p, "available")))


def test_orders_without_colour(monkeypatch: pytest.MonkeyPatch, snapshot_app: Callable[..., Any], snap_compare: Any) -> None:
    """NO_COLOR: every status still reads as a glyph plus its name."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = snapshot_app("customer", "alice")
    assert app.no_color
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready("CustomerScreen", "2", then=lambda p: table_filled(p, "order-table")))


def test_checkout_dialog(snapshot_app: Callable[..., Any], snap_compare: Any) -> None:
    async def checkout(pilot: Any) -> None:
        from textual.widgets import Input

        await press(pilot, "p")
        await on_screen(pilot, "CheckoutScreen")
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False

    app = snapshot_app("customer", "alice")
    async def cart_then_checkout(pilot: Any) -> None:
        await _fill_cart(pilot, "down", "down", "plus", "plus")
        await settle(pilot)
        await checkout(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready("CustomerScreen", then=cart_then_checkout))


def test_help_lists_every_binding(snapshot_app: Callable[..., Any], snap_compare: Any) -> None:
    async def help_open(pilot: Any) -> None:
        await press(pilot, "question_mark")
        await on_screen(pilot, "HelpScreen")

    app = snapshot_app("store", "pizza-palace")
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready("StoreScreen", then=help_open))
