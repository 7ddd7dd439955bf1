"""The live feed, the operations view, the command palette, help, and starting the console."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import deliverycli
from deliverycli.engine.errors import NotFound
from deliverycli.engine.messagebus import Subscriber
from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings

from .conftest import async_test, make_app, notifications, on_screen, press, row_of, rows, started, type_text, wait_until


def log_lines(app: Any) -> list[str]:
    log = app.screen.query_one("#log")
    return ["".join(segment.text for segment in line).rstrip() for line in log.lines]


def status_line(app: Any) -> str:
    return str(app.screen.query_one("#feed-status").render())


@async_test
async def test_feed_filters_pauses_and_follows(demo_db: str) -> None:
    with deliverycli.open_engine(demo_db) as engine:
        for customer in ("alice", "bob", "carol", "dave", "erin", "alice"):
            engine.orders.place(customer, "pizza-palace", ["cola"], "1 Test St")
        app = make_app(demo_db, "feed")
        async with app.run_test(size=(100, 24)) as pilot:
            await started(pilot, "FeedScreen")
            await wait_until(pilot, lambda: len(log_lines(app)) == engine.events.head())
            assert log_lines(app)[0].split()[1:] == ["ord-000001", "OrderPlaced", "customer:alice"]

            # scrolling up stops following; end follows again
            await wait_until(pilot, lambda: app.screen.query_one("#log").max_scroll_y > 0)
            await press(pilot, "up")
            await wait_until(pilot, lambda: "‖ paused" in status_line(app))
            await press(pilot, "end")
            await wait_until(pilot, lambda: "● following" in status_line(app))

            # filter by order id (12 means ord-000012), then by event type
            await press(pilot, "slash")
            await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "filter")
            await type_text(pilot, "2")
            await press(pilot, "enter")
            await wait_until(pilot, lambda: "order = ord-000002" in status_line(app) and log_lines(app) and all("ord-000002" in line for line in log_lines(app)))
            await press(pilot, "slash")
            await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "filter")
            await press(pilot, *["backspace"] * 3)
            await type_text(pilot, "orderplaced")
            await press(pilot, "enter")
            await wait_until(pilot, lambda: "type = OrderPlaced" in status_line(app) and len(log_lines(app)) == 6)

            # space pauses: a new order waits; space again shows it
            await press(pilot, "space")
            await wait_until(pilot, lambda: "‖ paused" in status_line(app))
            head = engine.events.head()
            engine.orders.place("bob", "seoul-bbq", ["bibimbap"], "22 Pine St")
            await wait_until(pilot, lambda: app.head > head)
            await pilot.pause(0.2)
            assert len(log_lines(app)) == 6
            await press(pilot, "space")
            await wait_until(pilot, lambda: len(log_lines(app)) == 7 and "ord-000007" in log_lines(app)[-1])
            assert "● following" in status_line(app)


def broken_notifications(subscribers: list[Subscriber]) -> list[Subscriber]:
    def broken(event: Any, uow: Any) -> None:
        raise ValueError("template missing")

    return [Subscriber(s.name, {**s.handlers, "CookingStarted": broken}) if s.name == "notification" else s for s in subscribers]


@async_test
async def test_operations_retries_a_dead_letter_and_lists_stuck_orders(demo_db: str) -> None:
    settings = load_settings(db=demo_db, retry_backoff_s=0.001, retry_max_attempts=2)
    with Engine.open(settings, subscribers=broken_notifications) as engine:
        order = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
        engine.store.accept(order.id, "pizza-palace")
        engine.orders.place("bob", "seoul-bbq", ["bibimbap"], "22 Pine St")
        (dead,) = engine.ops.dead_letters()
    app = make_app(demo_db, "ops", stuck_after_s=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, "OpsScreen")
        await wait_until(pilot, lambda: row_of(app, "dead-letters", "CookingStarted"))
        assert rows(app, "counts")[1:3] == [["$ PAID", "1"], ["♨ COOKING", "1"]]
        assert [r[:2] for r in rows(app, "stuck")] == [["ord-000001", "♨ COOKING"], ["ord-000002", "$ PAID"]]
        assert [r[0] for r in rows(app, "subscribers")] == ["ordering", "payment", "store", "delivery", "status", "notification"]
        assert "closed" in str(app.screen.query_one("#breaker").render())
        app.screen.query_one("#dead-letters").focus()
        await press(pilot, "t")
        await wait_until(pilot, lambda: rows(app, "dead-letters") == [], what="the dead letter to be resolved")
        assert f"Retried: Dead letter {dead.id} (CookingStarted for notification) was handled." in notifications(app)
        await press(pilot, "s")  # the next threshold: a minute; nothing has waited that long
        await wait_until(pilot, lambda: rows(app, "stuck") == [])
    with deliverycli.open_engine(demo_db) as engine:
        assert engine.ops.dead_letters() == []
        assert [n.status for n in engine.notifications.list("customer", "alice")][-1] == "COOKING"


@async_test
async def test_the_palette_switches_role_and_help_lists_the_keys(demo_db: str) -> None:
    app = make_app(demo_db, "store", "pizza-palace")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        await press(pilot, "question_mark")
        help_screen = await on_screen(pilot, "HelpScreen")
        described = {row[1] for row in help_screen.rows}
        assert {"Accept", "Reject", "Ready (on the Cooking tab)", "Back", "Search table", "Sort table", "Keys", "Live feed", "Switch role", "Quit"} <= described
        assert "Operations" not in described  # the operator's view, not a store owner's
        await press(pilot, "escape")
        await on_screen(pilot, "StoreScreen")

        await press(pilot, "ctrl+p")
        await on_screen(pilot, "CommandPalette")
        await type_text(pilot, "rider rider-lee")
        await wait_until(pilot, lambda: app.screen.query("CommandList").first().option_count > 0)
        await press(pilot, "enter")
        rider = await on_screen(pilot, "RiderScreen")
        assert rider.rider["id"] == "rider-lee" and app.sub_title == "rider rider-lee"
        assert [type(s).__name__ for s in app.screen_stack][1:] == ["RolePickerScreen", "RiderScreen"]

        await press(pilot, "f2")  # the live feed over the rider's view; esc comes back
        await on_screen(pilot, "FeedScreen")
        await press(pilot, "escape")
        await on_screen(pilot, "RiderScreen")
        await press(pilot, "escape")  # back to the role picker
        await on_screen(pilot, "RolePickerScreen")


@async_test
async def test_an_unknown_person_or_database_stops_the_console_with_its_exit_code(demo_db: str, tmp_path: Any) -> None:
    for app in (make_app(demo_db, "customer", "zoe"), make_app(str(tmp_path / "missing.db"))):
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.failure is not None)
        assert isinstance(app.failure, NotFound) and app.return_code == 3
    assert app.failure.message.startswith("no database at")


def test_the_tui_command_checks_its_options_before_starting(demo_db: str, cli: Any) -> None:
    result = cli("tui", "--as", "alice", db=demo_db)
    assert result.code == 2 and "--as needs --role customer, store or rider" in result.stderr
    result = cli("tui", "--role", "chef", db=demo_db)
    assert result.code == 2 and "--role 'chef' is not valid" in result.stderr
    result = cli(db=demo_db)  # no arguments, not a terminal: help, as before
    assert result.code == 0 and "tui" in result.stdout


def test_the_cli_starts_without_textual() -> None:
    """The console loads Textual only when it opens: other commands keep their cold start."""
    code = "import sys; from deliverycli.cli import _register; _register(); print(sorted(m for m in sys.modules if m.startswith('textual')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
