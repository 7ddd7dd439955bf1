"""Issue 10 §1 in the console: the store's Done tab, accepting with a preparation time, pausing and
selling out from the store view; the customer's shop shows a paused store and sold-out items
before they try; the rider sees what is coming up and when."""

from __future__ import annotations

import deliverycli

from .conftest import async_test, dialog_text, make_app, notifications, on_screen, press, row_of, rows, started, type_text, wait_until


def engine_on(db: str):  # noqa: ANN201
    return deliverycli.open_engine(db)


def tab_label(app, tab: str) -> str:  # noqa: ANN001
    from textual.widgets import TabbedContent

    return str(app.screen.query_one("#tabs", TabbedContent).get_tab(tab).label)


@async_test
async def test_done_tab_holds_what_riders_took_and_ready_empties(demo_db: str) -> None:
    with engine_on(demo_db) as engine:
        waiting, taken = (engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St").id for _ in range(2))
        for oid in (waiting, taken):
            engine.store.accept(oid, "pizza-palace")
            engine.store.ready(oid, "pizza-palace")
        engine.deliveries.pick_up(taken, "rider-kim")
    app = make_app(demo_db, "store", "pizza-palace")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        await wait_until(pilot, lambda: tab_label(app, "done") == "4 Done (1)", what=lambda: tab_label(app, "done"))
        assert tab_label(app, "ready") == "3 Ready (1)"
        await press(pilot, "4")
        await wait_until(pilot, lambda: row_of(app, "done-table", taken))
        assert "PICKED_UP" in row_of(app, "done-table", taken)[2]
        # another process: a rider takes the other one; the console follows it to Done
        with engine_on(demo_db) as engine:
            engine.deliveries.pick_up(waiting, "rider-lee")
            engine.deliveries.complete(waiting, "rider-lee")
        await wait_until(pilot, lambda: tab_label(app, "done") == "4 Done (2)", what=lambda: tab_label(app, "done"))
        assert tab_label(app, "ready") == "3 Ready (0)"
        await wait_until(pilot, lambda: row_of(app, "done-table", waiting) and "DONE" in row_of(app, "done-table", waiting)[2])


@async_test
async def test_accepting_asks_the_preparation_time_with_the_stores_usual_one(demo_db: str) -> None:
    with engine_on(demo_db) as engine:
        oid = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St").id
    app = make_app(demo_db, "store", "pizza-palace")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        await wait_until(pilot, lambda: row_of(app, "new-table", oid))
        await press(pilot, "a")
        dialog = await on_screen(pilot, "ReasonDialog")
        from textual.widgets import Input

        field = dialog.query_one("#reason", Input)
        assert field.value == "15"  # the store's usual time, filled in
        field.value = ""
        await type_text(pilot, "0")
        await press(pilot, "enter")
        await wait_until(pilot, lambda: "a whole number from 1 to 240" in dialog_text(app))
        assert app.screen is dialog  # kept open to correct it
        field.value = ""
        await type_text(pilot, "25")
        await press(pilot, "enter")
        await on_screen(pilot, "StoreScreen")
        await wait_until(pilot, lambda: any("ready around" in n for n in notifications(app)), what=lambda: str(notifications(app)))
    with engine_on(demo_db) as engine:
        (ticket,) = engine.store.queue("pizza-palace")
        assert (ticket.status, ticket.prep_min) == ("COOKING", 25)


@async_test
async def test_pausing_and_selling_out_from_the_store_view(demo_db: str) -> None:
    app = make_app(demo_db, "store", "pizza-palace")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        await press(pilot, "p")
        await on_screen(pilot, "ReasonDialog")
        await type_text(pilot, "back at 18:00")
        await press(pilot, "enter")
        await on_screen(pilot, "StoreScreen")
        info = lambda: str(app.screen.query_one("#store-info").render())  # noqa: E731
        await wait_until(pilot, lambda: "PAUSED" in info() and "back at 18:00" in info(), what=info)
        with engine_on(demo_db) as engine:
            assert engine.catalog.store("pizza-palace").pause_reason == "back at 18:00"
        await press(pilot, "p")  # paused: p resumes at once
        await wait_until(pilot, lambda: "PAUSED" not in info() and "12 Olive St" in info(), what=info)

        await press(pilot, "m")
        await on_screen(pilot, "MenuDialog")
        await press(pilot, "enter")  # the first item: cola
        await on_screen(pilot, "StoreScreen")
        await wait_until(pilot, lambda: "Cola is sold out." in " ".join(notifications(app)), what=lambda: str(notifications(app)))
    with engine_on(demo_db) as engine:
        assert not engine.catalog.store("pizza-palace").paused
        assert [i.available for i in engine.catalog.menu("pizza-palace") if i.id == "cola"] == [False]


@async_test
async def test_the_shop_shows_a_paused_store_and_sold_out_items_before_ordering(demo_db: str) -> None:
    with engine_on(demo_db) as engine:
        engine.catalog.sold_out("cola", "pizza-palace")
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        with engine_on(demo_db) as engine:
            engine.store.pause("pizza-palace", "out of flour")
        await press(pilot, "down")  # Pizza Palace: its menu and state are read as it is highlighted
        await wait_until(pilot, lambda: rows(app, "menu") and rows(app, "menu")[0][0] == "Cola (sold out)", what=lambda: str(rows(app, "menu")))
        from textual.widgets import OptionList

        stores = app.screen.query_one("#stores", OptionList)
        await wait_until(pilot, lambda: "⏸ Pizza Palace (paused)" in str(stores.get_option("pizza-palace").prompt))
        assert "paused: not taking orders (out of flour)" in str(app.screen.query_one("#menu").border_title)
        await press(pilot, "tab")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "menu")
        await press(pilot, "plus")  # cola, sold out: not added
        await wait_until(pilot, lambda: "Sold out: Cola is sold out right now." in notifications(app), what=lambda: str(notifications(app)))
        assert rows(app, "cart") == []


@async_test
async def test_the_rider_sees_what_is_coming_up_and_when(demo_db: str) -> None:
    with engine_on(demo_db) as engine:
        oid = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St").id
        ticket = engine.store.accept(oid, "pizza-palace", prep_min=30)
    app = make_app(demo_db, "rider", "rider-kim")
    async with app.run_test(size=(100, 40)) as pilot:
        await started(pilot, "RiderScreen")
        await wait_until(pilot, lambda: row_of(app, "upcoming", oid))
        assert row_of(app, "upcoming", oid) == [oid, "Pizza Palace", ticket.ready_at.astimezone().strftime("%H:%M")]
