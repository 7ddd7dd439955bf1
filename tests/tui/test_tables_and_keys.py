"""Issue 10 §2 and 15 §3 in the console: tables that sort, search, copy and page; the keys each view
offers; dialogs that validate; and the toasts Textual itself shows."""

from __future__ import annotations

import deliverycli
from textual.widgets import TabbedContent

from .conftest import async_test, dialog_text, make_app, notifications, on_screen, press, rows, settle, started, type_text, wait_until


def table(app, table_id: str):  # noqa: ANN001, ANN201
    """The table with this id on the top screen or beneath a dialog."""
    return next(found.first() for screen in reversed(app.screen_stack) if (found := screen.query(f"#{table_id}")))


def place(db: str, count: int, customer: str = "alice") -> list[str]:
    with deliverycli.open_engine(db) as engine:
        return [engine.orders.place(customer, "pizza-palace", ["cola"] * (1 + i % 3), "1 Test St").id for i in range(count)]


@async_test
async def test_ctrl_c_says_how_to_quit_without_showing_markup(demo_db: str) -> None:
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await started(pilot, "CustomerScreen")
        await press(pilot, "ctrl+c")
        await wait_until(pilot, lambda: app.screen.query("Toast"), what="a toast")
        shown = " ".join(str(toast.render()) for toast in app.screen.query("Toast"))
        assert "Press ctrl+q to quit the app" in shown and "[b]" not in shown
        assert "Do you want to quit?: Press ctrl+q to quit the app" in notifications(app)


@async_test
async def test_my_orders_sort_by_a_key_or_a_header_click_and_page_with_the_total(demo_db: str) -> None:
    ids = place(demo_db, 53)
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        await press(pilot, "2")
        await wait_until(pilot, lambda: len(rows(app, "order-table")) == 50, what="the first page")
        info = app.screen.query_one("#orders-info")
        await wait_until(pilot, lambda: str(info.render()).startswith("Orders 1–50 of 53, newest first"))
        assert [r[1] for r in rows(app, "order-table")] == ids[::-1][:50]

        orders = table(app, "order-table")
        await press(pilot, "o", "o", "o")  # Status ▲, Status ▼, then Order ▲
        await wait_until(pilot, lambda: str(orders.ordered_columns[1].label) == "Order ▲", what="sorted by order")
        assert [r[1] for r in rows(app, "order-table")] == sorted(ids[3:])
        total_x = sum(column.get_render_width(orders) for column in orders.ordered_columns[:3]) + 1
        await pilot.click("#order-table", offset=(total_x, 0))  # the header of Total
        await wait_until(pilot, lambda: str(orders.ordered_columns[3].label) == "Total ▲", what="a click on Total")
        totals = [int(r[3].split()[0].replace(",", "")) for r in rows(app, "order-table")]
        assert totals == sorted(totals) and totals[0] == 2_000 and totals[-1] == 6_000  # numbers, not text: 2,000 < 4,000 < 6,000

        await press(pilot, "right_square_bracket")
        await wait_until(pilot, lambda: str(info.render()).startswith("Orders 51–53 of 53"), what="the second page")
        assert sorted(r[1] for r in rows(app, "order-table")) == ids[:3]


@async_test
async def test_search_filters_a_table_until_esc_and_y_copies_the_order_id(demo_db: str) -> None:
    ids = place(demo_db, 2) + place(demo_db, 1, customer="bob")
    app = make_app(demo_db, "store", "pizza-palace")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        new = table(app, "new-table")
        await wait_until(pilot, lambda: len(rows(app, "new-table")) == 3)
        await press(pilot, "slash")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "search")
        await type_text(pilot, "4,000")  # the total of ids[1], two colas (a clock time could hold "02")
        await wait_until(pilot, lambda: [r[1] for r in rows(app, "new-table")] == [ids[1]], what=lambda: f"one row left: {rows(app, 'new-table')} search={app.screen.query_one('#search').value!r} focused={app.focused}")
        await press(pilot, "enter")  # keeps the search, back to the table
        await wait_until(pilot, lambda: app.focused is new)
        await type_text(pilot, "y")
        await wait_until(pilot, lambda: app.clipboard == ids[1], what="the id on the clipboard")
        assert f"Copied: {ids[1]} is on the clipboard." in notifications(app)

        await press(pilot, "slash")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "search")
        await type_text(pilot, "zzz")
        await wait_until(pilot, lambda: rows(app, "new-table") == [])
        assert new.empty_hint() == "Nothing matches “zzz”: / changes the search, esc clears it."  # reopened, the old search is selected: typing replaces it
        assert "Nothing matches" in new.render_line(1).text  # painted under the header
        await press(pilot, "escape")  # clears the search and closes its line
        await wait_until(pilot, lambda: len(rows(app, "new-table")) == 3 and app.focused is new)
        assert not app.screen.query_one("#search-bar").display


@async_test
async def test_help_in_a_customers_order_detail_lists_that_views_keys_only(demo_db: str) -> None:
    (order_id,) = place(demo_db, 1)
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        app.open_order(order_id)
        await on_screen(pilot, "OrderDetailScreen")
        await press(pilot, "question_mark")
        help_screen = await on_screen(pilot, "HelpScreen")
        described = {row[1] for row in help_screen.rows}
        assert {"Cancel order", "Confirm delivery", "Copy order id", "Back", "Keys", "Quit"} <= described
        assert not described & {"Accept", "Reject", "Ready", "Pick up", "Complete", "Operations"}
        assert not any("not here" in d for d in described)


@async_test
async def test_an_empty_reason_keeps_the_dialog_open_and_says_why(demo_db: str) -> None:
    (order_id,) = place(demo_db, 1)
    app = make_app(demo_db, "store", "pizza-palace")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        await wait_until(pilot, lambda: rows(app, "new-table"))
        await press(pilot, "x")
        await on_screen(pilot, "ReasonDialog")
        await type_text(pilot, "   ")
        await press(pilot, "enter")
        await wait_until(pilot, lambda: "Say why: the customer is told this reason." in dialog_text(app))
        assert type(app.screen).__name__ == "ReasonDialog" and app.focused.id == "reason"
        await settle(pilot)
        with deliverycli.open_engine(demo_db) as engine:
            assert engine.orders.get(order_id).status == "PAID"  # nothing was sent
        await type_text(pilot, "oven broken")
        await press(pilot, "enter")
        await on_screen(pilot, "StoreScreen")
        await wait_until(pilot, lambda: any(f"Order {order_id} rejected" in n for n in notifications(app)))


@async_test
async def test_a_newly_placed_order_is_highlighted_in_my_orders(demo_db: str) -> None:
    older = place(demo_db, 3)
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        await press(pilot, "2")
        await wait_until(pilot, lambda: len(rows(app, "order-table")) == 3)
        await press(pilot, "down", "down")  # an older order under the cursor
        await wait_until(pilot, lambda: table(app, "order-table").highlighted_key() == older[0])
        await press(pilot, "1")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "stores")
        await press(pilot, "tab")  # Green Bowl's menu
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "menu" and rows(app, "menu"))
        await press(pilot, "plus", "p")
        await on_screen(pilot, "CheckoutScreen")
        await press(pilot, "enter")  # the suggested address; on to the card
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "card")
        await press(pilot, "enter")
        await on_screen(pilot, "ConfirmDialog")
        await press(pilot, "y")
        await on_screen(pilot, "MessageDialog")
        await press(pilot, "enter")
        await wait_until(pilot, lambda: len(rows(app, "order-table")) == 4, what="the new order listed")
        await wait_until(pilot, lambda: table(app, "order-table").highlighted_key() == "ord-000004", what="the new order highlighted")


@async_test
async def test_a_late_tab_activation_leaves_the_focus_where_the_reader_put_it(demo_db: str) -> None:
    """Under load the tabs' first activation reached the screen after a test had pressed tab: it
    pulled the focus back to the store list, and the wait for the menu's focus timed out."""
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        await press(pilot, "tab")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "menu")
        tabs = app.screen.query_one("#tabs", TabbedContent)
        app.screen.post_message(TabbedContent.TabActivated(tabs, tabs.get_tab("shop")))  # as the late one arrives
        await settle(pilot)
        assert app.focused.id == "menu"
        await press(pilot, "2")  # a real switch still focuses the tab's table
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "order-table")
