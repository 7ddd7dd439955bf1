"""The cancel paths and every refusal the console must explain: the engine decides, the console
shows its words."""

from __future__ import annotations

import deliverycli

from .conftest import async_test, make_app, notifications, on_screen, press, row_of, rows, settle, started, type_text, wait_until


def engine_on(db: str):  # noqa: ANN201
    return deliverycli.open_engine(db)


def cell(app, table: str, order_id: str, column: int) -> str:  # noqa: ANN001
    row = row_of(app, table, order_id)
    return row[column] if row else ""


@async_test
async def test_cancelling_before_cooking_cancels_and_refunds(demo_db: str) -> None:
    with engine_on(demo_db) as engine:
        order = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        await press(pilot, "2")
        await wait_until(pilot, lambda: "PAID" in cell(app, "order-table", order.id, 0))
        await press(pilot, "c")
        dialog = await on_screen(pilot, "ConfirmDialog")
        assert dialog.title_text == f"Cancel order {order.id}?"
        assert "once cooking has started the cancellation is refused" in dialog.body
        await press(pilot, "y")
        await wait_until(pilot, lambda: cell(app, "order-table", order.id, 0) == "⊘ CANCELLED")
        assert f"Cancelled: Order {order.id} is ⊘ CANCELLED and refunded." in notifications(app)
    with engine_on(demo_db) as engine:
        assert engine.payments.get(order.id).status == "REFUNDED"


@async_test
async def test_answering_no_keeps_the_order(demo_db: str) -> None:
    with engine_on(demo_db) as engine:
        order = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        await press(pilot, "2")
        await wait_until(pilot, lambda: row_of(app, "order-table", order.id))
        await press(pilot, "c")
        await on_screen(pilot, "ConfirmDialog")
        await press(pilot, "n")
        await on_screen(pilot, "CustomerScreen")
    with engine_on(demo_db) as engine:
        assert engine.orders.get(order.id).status == "PAID"


@async_test
async def test_cancelling_after_cooking_started_is_refused_and_explained(demo_db: str) -> None:
    with engine_on(demo_db) as engine:
        order = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
        engine.store.accept(order.id, "pizza-palace")
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        await press(pilot, "2")
        await wait_until(pilot, lambda: "COOKING" in cell(app, "order-table", order.id, 0))
        await press(pilot, "c")
        await on_screen(pilot, "ConfirmDialog")
        await press(pilot, "y")
        dialog = await on_screen(pilot, "MessageDialog")
        assert dialog.title_text == f"Order {order.id} was not cancelled"
        assert dialog.body == f"Order {order.id} was not cancelled: the store has already started cooking, so it can't be cancelled now."
        await press(pilot, "enter")
        await on_screen(pilot, "CustomerScreen")
        assert cell(app, "order-table", order.id, 0) == "♨ COOKING"


@async_test
async def test_only_the_ordering_customer_may_cancel_and_a_delivered_order_cannot_be(demo_db: str) -> None:
    with engine_on(demo_db) as engine:
        bobs = engine.orders.place("bob", "seoul-bbq", ["bulgogi"], "22 Pine St")
        mine = engine.orders.place("alice", "pizza-palace", ["cola"], "1 Test St")
        engine.store.accept(mine.id, "pizza-palace")
        engine.store.ready(mine.id, "pizza-palace")
        engine.deliveries.pick_up(mine.id, "rider-kim")
        engine.deliveries.complete(mine.id, "rider-kim")
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        # another customer's order, opened with the command palette
        await press(pilot, "ctrl+p")
        await on_screen(pilot, "CommandPalette")
        await type_text(pilot, bobs.id)
        await wait_until(pilot, lambda: "Jump to order" in str(app.screen.query("CommandList").first().get_option_at_index(0).prompt) if app.screen.query("CommandList").first().option_count else False)
        await press(pilot, "enter")
        detail = await on_screen(pilot, "OrderDetailScreen")
        assert detail.order_id == bobs.id
        await wait_until(pilot, lambda: rows(app, "timeline"))
        await press(pilot, "c")
        await on_screen(pilot, "ConfirmDialog")
        await press(pilot, "y")
        dialog = await on_screen(pilot, "MessageDialog")
        assert dialog.body == f"only the customer who placed order {bobs.id} may cancel it"
        await press(pilot, "enter")
        await on_screen(pilot, "OrderDetailScreen")
        await press(pilot, "escape")
        # my own order, already delivered: the confirm key is the way forward, not cancel
        await on_screen(pilot, "CustomerScreen")
        await press(pilot, "2")
        await wait_until(pilot, lambda: "DELIVERED" in cell(app, "order-table", mine.id, 0))
        await press(pilot, "c")
        await on_screen(pilot, "ConfirmDialog")
        await press(pilot, "y")
        dialog = await on_screen(pilot, "MessageDialog")
        assert "it has already been delivered, so it can't be cancelled now" in dialog.body


@async_test
async def test_the_store_rejects_with_a_reason_and_the_customer_is_refunded(demo_db: str) -> None:
    with engine_on(demo_db) as engine:
        order = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
    app = make_app(demo_db, "store", "pizza-palace")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        await wait_until(pilot, lambda: row_of(app, "new-table", order.id))
        await press(pilot, "x")
        dialog = await on_screen(pilot, "ReasonDialog")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "reason")
        assert dialog.title_text == f"Reject order {order.id}?"
        await type_text(pilot, "out of dough")
        await press(pilot, "enter")
        await on_screen(pilot, "StoreScreen")
        await press(pilot, "4")
        await wait_until(pilot, lambda: "✘ REJECTED" in cell(app, "cancelled-table", order.id, 2))
        assert "out of dough" in cell(app, "cancelled-table", order.id, 5)
    with engine_on(demo_db) as engine:
        status = engine.orders.status(order.id)
        assert status.status == "CANCELLED" and "out of dough" in status.reason
        assert engine.payments.get(order.id).status == "REFUNDED"


@async_test
async def test_a_store_sees_a_cancellation_arrive(demo_db: str) -> None:
    app = make_app(demo_db, "store", "pizza-palace")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        with engine_on(demo_db) as engine:
            order = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
            await wait_until(pilot, lambda: row_of(app, "new-table", order.id))
            engine.orders.cancel(order.id, "alice")
        await wait_until(pilot, lambda: not row_of(app, "new-table", order.id))
        await wait_until(pilot, lambda: any(f"Order {order.id} was cancelled." in n for n in notifications(app)))
        assert cell(app, "cancelled-table", order.id, 0) == "●"  # marked until looked at
        assert "5 Cancelled (1) ●" == str(app.screen.query_one("#tabs").get_tab("cancelled").label)


@async_test
async def test_a_declined_or_unavailable_payment_is_explained_and_the_cart_kept(demo_db: str) -> None:
    app = make_app(demo_db, "customer", "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "CustomerScreen")
        await press(pilot, "tab")  # Green Bowl's menu: caesar salad first
        await wait_until(pilot, lambda: rows(app, "menu") and rows(app, "menu")[0][0] == "Caesar salad")
        await press(pilot, "plus")
        for card, title, words in (
            ("4000000000000002", "Payment declined", "payment declined"),
            ("4000000000000119", "Payment service unavailable", "payment service unavailable"),
        ):
            await press(pilot, "p")
            await on_screen(pilot, "CheckoutScreen")
            await press(pilot, "enter")  # the address as suggested; on to the card
            await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "card")
            await type_text(pilot, card)
            await press(pilot, "enter")
            confirm = await on_screen(pilot, "ConfirmDialog")
            assert f"Pay with the card ending {card[-4:]}" in confirm.body
            await press(pilot, "y")
            dialog = await on_screen(pilot, "MessageDialog")
            assert dialog.title_text == title
            assert words in dialog.body and "Your cart is kept" in dialog.body
            await press(pilot, "enter")
            await on_screen(pilot, "CustomerScreen")
            assert "Total 12,000 KRW" in str(app.screen.query_one("#total").render())
        await press(pilot, "2")
        await wait_until(pilot, lambda: app.screen.query_one("#tabs").active == "orders" and len(rows(app, "order-table")) == 2)
        assert [r[0] for r in rows(app, "order-table")] == ["✘ REJECTED", "✘ REJECTED"]


@async_test
async def test_the_slower_rider_is_told_who_was_faster(demo_db: str) -> None:
    with engine_on(demo_db) as engine:
        order = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
        engine.store.accept(order.id, "pizza-palace")
        engine.store.ready(order.id, "pizza-palace")
    app = make_app(demo_db, "rider", "rider-lee", poll_interval=None)  # its list stays as it was
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "RiderScreen")
        await wait_until(pilot, lambda: row_of(app, "available", order.id))
        with engine_on(demo_db) as engine:
            engine.deliveries.pick_up(order.id, "rider-kim")
        await press(pilot, "p")
        await wait_until(pilot, lambda: any("picked up by another rider" in n for n in notifications(app)))
        assert f"Not allowed now: order {order.id} was already picked up by another rider (rider-kim)" in notifications(app)
        await wait_until(pilot, lambda: not row_of(app, "available", order.id))  # and the list catches up


@async_test
async def test_a_read_only_console_offers_no_commands(demo_db: str) -> None:
    with engine_on(demo_db) as engine:
        order = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Test St")
    app = make_app(demo_db, "store", "pizza-palace", readonly=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, "StoreScreen")
        await wait_until(pilot, lambda: row_of(app, "new-table", order.id))
        keys = {b.binding.description for b in app.screen.active_bindings.values()}
        assert "Accept" not in keys and "Reject" not in keys
        await press(pilot, "a", "2")  # keys are handled in order: once on Cooking, `a` was handled
        await wait_until(pilot, lambda: app.screen.query_one("#tabs").active == "cooking")
        await settle(pilot)  # a command would have run in a worker: none did
        assert "read-only" in app.sub_title
    with engine_on(demo_db) as engine:
        assert engine.orders.get(order.id).status == "PAID"
