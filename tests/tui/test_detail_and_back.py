"""Opening an order's detail and going back (issue 15): the detail's first frame is whole, an order
that cannot be read is only an error, the footer is not rebuilt when its keys stay the same, and
Esc does not wait Textual's 100 ms for an escape sequence."""

from __future__ import annotations

import deliverycli
from textual._xterm_parser import XTermParser
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from deliverycli import terminal_driver
from deliverycli.screens.order_detail import OrderDetailScreen
from deliverycli.widgets.footer import ConsoleFooter

from .conftest import async_test, make_app, notifications, on_screen, press, rows, settle, started, wait_until


def place(db: str) -> str:
    with deliverycli.open_engine(db) as engine:
        return engine.orders.place("alice", "pizza-palace", ["cola"], "1 Detail St").id


def test_the_detail_is_filled_before_its_first_paint(demo_db: str, monkeypatch) -> None:  # noqa: ANN001
    order_id = place(demo_db)
    at_mount: list[tuple[list[list[str]], str]] = []
    mounted = OrderDetailScreen.on_mount

    def on_mount(screen: OrderDetailScreen) -> None:  # a screen paints only once mounted
        mounted(screen)
        at_mount.append((rows(screen.app, "timeline"), str(screen.query_one("#summary", Static).render())))

    monkeypatch.setattr(OrderDetailScreen, "on_mount", on_mount)

    @async_test
    async def run() -> None:
        app = make_app(demo_db, "store", "pizza-palace")
        async with app.run_test(size=(100, 30)) as pilot:
            await started(pilot, "StoreScreen")
            app.open_order(order_id)
            await on_screen(pilot, "OrderDetailScreen")

    run()
    ((timeline, summary),) = at_mount
    assert [r[3] for r in timeline][:1] == ["OrderPlaced"] and "Status" in summary


@async_test
async def test_an_order_that_cannot_be_read_is_an_error_and_no_screen(demo_db: str) -> None:
    app = make_app(demo_db, "store", "pizza-palace")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        shown: list[str] = []
        app.screen_change_signal.subscribe(app, lambda screen: shown.append(type(screen).__name__))
        app.open_order("ord-999999")
        await wait_until(pilot, lambda: any("ord-999999" in n for n in notifications(app)), what="the not-found toast")
        await settle(pilot)
        assert shown == [] and type(app.screen).__name__ == "StoreScreen"  # no detail opened and closed again


@async_test
async def test_back_from_a_detail_keeps_the_footer_it_had(demo_db: str) -> None:
    place(demo_db)
    app = make_app(demo_db, "store", "pizza-palace")
    async with app.run_test(size=(100, 30)) as pilot:
        store = await started(pilot, "StoreScreen")
        await wait_until(pilot, lambda: rows(app, "new-table"), what="the new order")
        footer = store.query_one(ConsoleFooter)
        keys = list(footer.query(FooterKey))
        assert keys and all(not k.has_class("-compact") for k in keys if not k.has_class("-command-palette"))
        await press(pilot, "enter")
        await on_screen(pilot, "OrderDetailScreen")
        await wait_until(pilot, lambda: app.screen.query(FooterKey), what="the detail's keys")
        await press(pilot, "escape")
        await on_screen(pilot, "StoreScreen")
        await settle(pilot)
        assert list(footer.query(FooterKey)) == keys  # the same widgets: the same keys were not composed again
        assert all(k.is_attached for k in keys)


def test_a_lone_escape_is_due_after_the_escape_delay_not_the_idle_wait(monkeypatch) -> None:  # noqa: ANN001
    from textual import constants

    monkeypatch.setattr(constants, "ESCAPE_DELAY", terminal_driver.ESCAPE_DELAY_MS / 1000)
    parser = XTermParser()
    assert terminal_driver.input_wait_s(parser) == terminal_driver.IDLE_WAIT_S  # nothing pending
    assert list(parser.feed("\x1b")) == []  # maybe the start of a sequence: not a key yet
    assert 0 <= terminal_driver.input_wait_s(parser) <= terminal_driver.ESCAPE_DELAY_MS / 1000
    assert [key.key for key in parser.feed("[A")] == ["up"]  # it was: an arrow
    assert terminal_driver.input_wait_s(parser) == terminal_driver.IDLE_WAIT_S


@async_test
async def test_back_reads_my_orders_again_only_if_events_were_committed_meanwhile(demo_db: str, monkeypatch) -> None:  # noqa: ANN001
    from deliverycli.app import HeadChanged
    from deliverycli.screens import customer

    order_id = place(demo_db)
    reads: list[str | None] = []
    read_page = customer.my_orders

    def counted(engine, customer_id, after):  # noqa: ANN001, ANN202
        reads.append(after)
        return read_page(engine, customer_id, after)

    monkeypatch.setattr(customer, "my_orders", counted)
    app = make_app(demo_db, "customer", "alice", poll_interval=None)  # only this test says when the log grew
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        await press(pilot, "2")
        await wait_until(pilot, lambda: rows(app, "order-table"), what="my orders")
        for committed in (False, True):
            before = len(reads)
            app.open_order(order_id)
            await on_screen(pilot, "OrderDetailScreen")
            if committed:
                head = app.head + 1
                app.post_message(HeadChanged(head))
                await wait_until(pilot, lambda: app.head == head, what="the new head")
            await press(pilot, "escape")
            await on_screen(pilot, "CustomerScreen")
            await settle(pilot)
            assert len(reads) == before + committed
