"""Who sees what (role separation), what the console remembers, and how it starts: issue 10 §2 and
issue 15 §3."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import deliverycli
from deliverycli.preferences import preferences_path

from .conftest import async_test, make_app, notifications, on_screen, press, rows, settle, started, type_text, wait_until


def log_orders(app: Any) -> set[str]:
    """The order ids in the live feed's lines."""
    log = app.screen.query_one("#log")
    return {"".join(segment.text for segment in line).split()[1] for line in log.lines}


def seed_two_customers(db: str) -> dict[str, str]:
    with deliverycli.open_engine(db) as engine:
        alices = engine.orders.place("alice", "pizza-palace", ["cola"], "1 Test St").id
        bobs = engine.orders.place("bob", "seoul-bbq", ["bibimbap"], "22 Pine St").id
        engine.store.accept(bobs, "seoul-bbq")
        engine.store.ready(bobs, "seoul-bbq")
        engine.deliveries.pick_up(bobs, "rider-kim")
    return {"alice": alices, "bob": bobs}


@async_test
async def test_each_party_sees_its_own_orders_events_and_only_the_operator_the_operations_view(demo_db: str) -> None:
    orders = seed_two_customers(demo_db)
    for role, actor, expected in (
        ("ops", None, {orders["alice"], orders["bob"]}),  # first: each round adds an order of carol's
        ("customer", "alice", {orders["alice"]}),
        ("store", "seoul-bbq", {orders["bob"]}),
        ("rider", "rider-kim", {orders["bob"]}),
    ):
        app = make_app(demo_db, role, actor)
        async with app.run_test(size=(100, 30)) as pilot:
            await started(pilot, {"customer": "CustomerScreen", "store": "StoreScreen", "rider": "RiderScreen", "ops": "OpsScreen"}[role])
            await press(pilot, "f3")  # the operations view: the operator's only
            await press(pilot, "f2")
            feed = await on_screen(pilot, "FeedScreen")
            await wait_until(pilot, lambda: log_orders(app) == expected, what=lambda: f"{role}: {log_orders(app)}")
            assert ("OpsScreen" in [type(s).__name__ for s in app.screen_stack]) == (role == "ops")
            if actor:
                assert f"{actor}'s orders" in str(feed.query_one("#feed-status").render())
            # a new order of someone else shows in the operator's feed only
            with deliverycli.open_engine(demo_db) as engine:
                other = engine.orders.place("carol", "green-bowl", ["poke"], "7 Birch Ln").id
                head = engine.events.head()
            await wait_until(pilot, lambda: app.head >= head)
            await settle(pilot)
            if role == "ops":
                await wait_until(pilot, lambda: other in log_orders(app))
            else:
                assert other not in log_orders(app)


@async_test
async def test_an_unknown_feed_filter_is_refused_with_how_filters_work(demo_db: str) -> None:
    seed_two_customers(demo_db)
    app = make_app(demo_db, "feed")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await started(pilot, "FeedScreen")
        await wait_until(pilot, lambda: log_orders(app))
        await press(pilot, "slash")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "filter")
        await type_text(pilot, "bogus")
        await press(pilot, "enter")
        await wait_until(pilot, lambda: any(n.startswith("The filter matched nothing: “bogus” is neither an order, an event type nor a context.") for n in notifications(app)))
        assert "Filter by an order (12 or ord-000012), an event type (CookingStarted)" in notifications(app)[-1]
        assert app.focused.id == "filter" and screen.criteria == {}  # still open to correct; the feed kept its filter
        assert "all events" in str(screen.query_one("#feed-status").render())
        await press(pilot, *["backspace"] * 5)
        await type_text(pilot, "order:ord-000099")  # a well-formed filter that matches nothing (yet)
        await press(pilot, "enter")
        await wait_until(pilot, lambda: "order = ord-000099 · nothing matched yet" in str(screen.query_one("#feed-status").render()))


@async_test
async def test_preferences_remember_theme_role_and_address_until_reset(demo_db: str) -> None:
    path = preferences_path()
    assert not path.exists()
    app = make_app(demo_db, "customer", "bob")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        app.theme = "nord"
        await wait_until(pilot, lambda: path.exists() and json.loads(path.read_text())["theme"] == "nord")
        await press(pilot, "tab")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "menu" and rows(app, "menu"))
        await press(pilot, "plus", "p")
        await on_screen(pilot, "CheckoutScreen")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "address")
        await press(pilot, *["backspace"] * 40)
        await type_text(pilot, "5 New Street")
        await press(pilot, "enter")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "card")
        await press(pilot, "enter")
        await on_screen(pilot, "ConfirmDialog")
        await press(pilot, "y")
        await on_screen(pilot, "MessageDialog")
    saved = json.loads(path.read_text())
    assert (saved["theme"], saved["last_role"], saved["last_actor"], saved["addresses"]) == ("nord", "customer", "bob", {"bob": "5 New Street"})

    app = make_app(demo_db)  # no role given: the picker, on the last one used, in the last theme
    async with app.run_test(size=(100, 30)) as pilot:
        picker = await started(pilot, "RolePickerScreen")
        roles = picker.query_one("#roles")
        await wait_until(pilot, lambda: roles.highlighted_option is not None and roles.highlighted_option.id == "customer:bob")
        assert app.theme == "nord"
        await press(pilot, "enter")
        await started(pilot, "CustomerScreen")
        await press(pilot, "tab")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "menu" and rows(app, "menu"))
        await press(pilot, "plus", "p")
        checkout = await on_screen(pilot, "CheckoutScreen")
        assert checkout.query_one("#address").value == "5 New Street"
        await press(pilot, "escape")
        await on_screen(pilot, "CustomerScreen")
        await press(pilot, "ctrl+p")
        await on_screen(pilot, "CommandPalette")
        await type_text(pilot, "preferences reset")
        await wait_until(pilot, lambda: app.screen.query("CommandList").first().option_count > 0)
        await press(pilot, "enter")
        await wait_until(pilot, lambda: any(n.startswith("Preferences reset:") for n in notifications(app)))
        assert app.theme != "nord"
    assert not path.exists()


@async_test
async def test_reduced_motion_turns_animations_off_and_is_remembered(demo_db: str) -> None:
    app = make_app(demo_db, "store", "pizza-palace")
    assert app.animation_level == app.motion_level  # Textual's level (TEXTUAL_ANIMATIONS) unless asked
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        app.toggle_reduced_motion()
        assert app.animation_level == "none"
        await press(pilot, "2")  # the tab underline jumps instead of sliding
        underline = app.screen.query_one("Underline")
        await wait_until(pilot, lambda: app.screen.query_one("#tabs").active == "cooking")
        await pilot.pause(0)
        assert not app.animator.is_being_animated(underline, "highlight_start")
    app = make_app(demo_db, "store", "pizza-palace")
    assert app.preferences.reduced_motion
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        assert app.animation_level == "none"
        app.toggle_reduced_motion()
        assert app.animation_level == app.motion_level


@async_test
async def test_the_store_view_reads_again_only_the_tabs_its_own_new_events_touch(demo_db: str) -> None:
    with deliverycli.open_engine(demo_db) as engine:
        first = engine.orders.place("alice", "pizza-palace", ["cola"], "1 Test St").id
    app = make_app(demo_db, "store", "pizza-palace")
    async with app.run_test(size=(100, 30)) as pilot:
        store = await started(pilot, "StoreScreen")
        await wait_until(pilot, lambda: rows(app, "new-table"))
        assert store.loads == 5  # every tab, once
        await press(pilot, "enter")  # the order's detail, and back: nothing changed, nothing read
        await on_screen(pilot, "OrderDetailScreen")
        await press(pilot, "escape")
        await on_screen(pilot, "StoreScreen")
        with deliverycli.open_engine(demo_db) as engine:
            engine.orders.place("bob", "seoul-bbq", ["bibimbap"], "22 Pine St")  # another store's
            await wait_until(pilot, lambda: app.head >= engine.events.head())
            await settle(pilot)
            assert store.loads == 5
            second = engine.orders.place("carol", "pizza-palace", ["cola"], "7 Birch Ln").id
            await wait_until(pilot, lambda: len(rows(app, "new-table")) == 2, what="the new order")
            assert store.loads == 6  # the New tab only
            engine.store.accept(first, "pizza-palace")
        await wait_until(pilot, lambda: [r[1] for r in rows(app, "new-table")] == [second], what="the accepted order gone from New")
        await wait_until(pilot, lambda: store.loads == 8)  # New and Cooking
        await settle(pilot)
        assert store.loads == 8 and str(store.query_one("#tabs").get_tab("cooking").label) == "2 Cooking (1)"


@async_test
async def test_store_tab_counts_have_thousands_separators(demo_db: str) -> None:
    app = make_app(demo_db, "store", "pizza-palace", poll_interval=None)
    async with app.run_test(size=(100, 30)) as pilot:
        store = await started(pilot, "StoreScreen")
        counts = {"NEW": 1234, "COOKING": 0, "READY": 30500, "CANCELLED": 999, "REJECTED": 1}
        store.show_queue({"head": app.head, "counts": counts, "tickets": {}})  # as a store with 32,734 tickets reads
        labels = [str(store.query_one("#tabs").get_tab(tab).label) for tab in ("new", "cooking", "ready", "done", "cancelled")]
        assert labels == ["1 New (1,234)", "2 Cooking (0)", "3 Ready (30,500)", "4 Done (0)", "5 Cancelled (1,000)"]


def test_the_console_without_a_terminal_exits_2_and_points_to_the_commands(demo_db: str, cli: Any) -> None:
    result = cli("tui", "--role", "customer", "--as", "alice", db=demo_db, input="")
    assert result.code == 2 and "the console needs a terminal" in result.stderr and "deliverycli orders list --json" in result.stderr
    proc = subprocess.run(  # the report's own words: `deliverycli tui </dev/null | tail -1`
        f"{Path(sys.executable).with_name('deliverycli')} --db '{demo_db}' tui </dev/null | tail -1; exit ${{PIPESTATUS[0]}}",
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2 and "the console needs a terminal" in proc.stderr


def test_esc_is_reported_after_25_ms_unless_the_user_set_escdelay() -> None:
    code = "from deliverycli.console import terminal_settings; terminal_settings(); import textual.constants as c; print(c.ESCAPE_DELAY)"
    env = {k: v for k, v in os.environ.items() if k != "ESCDELAY"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60).stdout.strip() == "0.025"
    assert subprocess.run([sys.executable, "-c", code], env=env | {"ESCDELAY": "200"}, capture_output=True, text=True, timeout=60).stdout.strip() == "0.2"


def test_no_module_imports_the_app_back() -> None:
    """The app imports its screens and the palette; they see it through screens/console.py, so there
    is no cycle, not even one made of type-only imports. Only console.py (`tui`, or `deliverycli` at a terminal) starts the app."""
    package = Path(deliverycli.__file__).parent
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                absolute = node.module if node.level == 0 else ".".join(path.relative_to(package.parent).with_suffix("").parts[: -node.level] + (node.module,))
                if absolute == "deliverycli.app":
                    importers.add(str(path.relative_to(package)))
    assert importers == {"console.py"}
