"""My orders pages with keys (issue 15 §2): ] and [ walk pages after a cursor; orders placed while
the customer reads page 2 do not shift it (the newest show on page 1); every order is on exactly one page."""

from __future__ import annotations

import deliverycli

from .conftest import async_test, make_app, press, rows, started, wait_until


def place(db: str, count: int, customer: str = "alice") -> list[str]:
    with deliverycli.open_engine(db) as engine:
        return [engine.orders.place(customer, "pizza-palace", ["cola"], "1 Page St").id for _ in range(count)]


@async_test
async def test_my_orders_pages_with_keys_while_new_orders_arrive(demo_db: str) -> None:
    ids = place(demo_db, 120)  # three pages: 50, 50, 20
    place(demo_db, 3, customer="bob")  # someone else's: on no page of alice's
    newest_first = ids[::-1]
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        await press(pilot, "2")
        info = app.screen.query_one("#orders-info")

        def shown() -> list[str]:
            return [r[1] for r in rows(app, "order-table")]

        await wait_until(pilot, lambda: str(info.render()).startswith("Orders 1–50 of 120"), what="page 1")
        assert shown() == newest_first[:50]
        seen = shown()
        await press(pilot, "right_square_bracket")
        await wait_until(pilot, lambda: str(info.render()).startswith("Orders 51–100 of 120"), what="page 2")
        assert shown() == newest_first[50:100]
        seen += shown()

        arrived = place(demo_db, 4)  # another process places orders meanwhile
        app.screen.reload()  # as the poll does when it sees new events
        await wait_until(pilot, lambda: str(info.render()).startswith("Orders 51–100 of 124"), what="page 2, the new total")
        assert shown() == newest_first[50:100]  # the page did not shift by the four new orders

        await press(pilot, "right_square_bracket")
        await wait_until(pilot, lambda: str(info.render()).startswith("Orders 101–120 of 124"), what="page 3")
        seen += shown()
        assert seen == newest_first  # every order on exactly one page
        assert "next page" not in str(info.render()) and "previous page" in str(info.render())
        await press(pilot, "right_square_bracket")  # nothing after the last page
        await pilot.pause()
        assert str(info.render()).startswith("Orders 101–120 of 124")

        await press(pilot, "left_square_bracket", "left_square_bracket")
        await wait_until(pilot, lambda: str(info.render()).startswith("Orders 1–50 of 124"), what="back on page 1")
        assert shown() == (arrived[::-1] + newest_first)[:50]  # the newest, the new ones first
