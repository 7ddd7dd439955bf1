"""What the console paints, launch after launch: tables drawn at the width of their rows."""

from __future__ import annotations

from textual.widgets import DataTable

from .conftest import async_test, make_app, on_screen, wait_until

LAUNCHES = 10  # each 0.7 to 2 s; before the fix, 3 to 8 launches in 20 painted header-width columns


def painted(table: DataTable, y: int) -> str:
    """The text of line ``y`` of ``table`` as the screen paints it (the Line API the compositor calls)."""
    return table.render_line(y).text


@async_test
async def test_the_menu_is_painted_at_the_width_of_its_rows_on_every_launch(demo_db: str) -> None:
    """Issue 15 §1: the Menu table sometimes kept header-width columns ("Caes 12,00")."""
    for launch in range(1, LAUNCHES + 1):
        app = make_app(demo_db, "customer", "alice", poll_interval=None)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await on_screen(pilot, "CustomerScreen")
            menu = screen.query_one("#menu", DataTable)
            await wait_until(pilot, lambda: menu.row_count > 0, what="Green Bowl's menu")
            await pilot.pause(0)  # every message handled, the table idle: what is painted now stays
            await pilot.pause(0)
            first_row = painted(menu, 1)  # line 0 is the header
            assert "Caesar salad" in first_row and "12,000 KRW" in first_row, f"launch {launch}: {first_row.strip()!r}"
