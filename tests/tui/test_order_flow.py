"""A whole order across three consoles on one database file: each sees the others' changes live."""

from __future__ import annotations

from deliverycli.app import DeliveryApp

from .conftest import async_test, make_app, on_screen, press, notifications, row_of, rows, settle, started, wait_until


def status_of(app: DeliveryApp, table: str, order_id: str) -> str:
    row = row_of(app, table, order_id)
    return " ".join(row) if row else ""


@async_test
async def test_customer_store_and_rider_consoles_see_each_other(demo_db: str) -> None:
    customer, store, rider = make_app(demo_db, "customer", "alice"), make_app(demo_db, "store", "pizza-palace"), make_app(demo_db, "rider", "rider-kim")
    async with customer.run_test(size=(100, 30)) as c, store.run_test(size=(100, 30)) as s, rider.run_test(size=(100, 30)) as r:
        everyone = [c, s, r]
        await started(c, "CustomerScreen")
        await started(s, "StoreScreen")
        await started(r, "RiderScreen")
        assert rows(store, "new-table") == []

        # the customer picks Pizza Palace, two margheritas and a cola, and pays
        await press(c, "down")  # stores are listed by id: green-bowl, pizza-palace, seoul-bbq
        await settle(c)
        await press(c, "tab")  # to the menu
        await wait_until(c, lambda: customer.focused is not None and customer.focused.id == "menu")
        await wait_until(c, lambda: ["Margherita pizza", "18,000 KRW"] in rows(customer, "menu"), what="Pizza Palace's menu")
        menu = [row[0] for row in rows(customer, "menu")]
        await press(c, *(["down"] * menu.index("Margherita pizza")), "plus", "plus")
        await press(c, *(["up"] * 5))
        await press(c, *(["down"] * menu.index("Cola")), "plus")
        await wait_until(c, lambda: "Total 38,000 KRW" in str(customer.screen.query_one("#total").render()), what="the cart's total")
        await press(c, "p")
        await on_screen(c, "CheckoutScreen")
        await press(c, "enter")  # the address as suggested
        await wait_until(c, lambda: customer.focused is not None and customer.focused.id == "card")
        await press(c, "enter")  # the default card
        await on_screen(c, "ConfirmDialog")
        assert "Total 38,000 KRW" in customer.screen.body
        await press(c, "y")
        await on_screen(c, "MessageDialog")
        assert customer.screen.title_text == "Payment approved"
        assert "ord-000001 is $ PAID" in customer.screen.body
        await press(c, "enter")
        await wait_until(c, lambda: "PAID" in status_of(customer, "order-table", "ord-000001"))

        # the store sees it arrive (marked new, with a toast), accepts it: the customer sees COOKING
        await wait_until(everyone, lambda: row_of(store, "new-table", "ord-000001"), what="the store to see the order")
        assert row_of(store, "new-table", "ord-000001")[0] == "●"
        await wait_until(everyone, lambda: any("New order ord-000001 arrived" in n for n in notifications(store)), what="the store's toast")
        await press(s, "a")  # asks how long cooking takes: the store's usual time is filled in
        await on_screen(s, "ReasonDialog")
        await press(s, "enter")
        await wait_until(everyone, lambda: "COOKING" in status_of(customer, "order-table", "ord-000001"), what="the customer to see COOKING")
        await press(s, "2")
        await wait_until(everyone, lambda: row_of(store, "cooking-table", "ord-000001"))
        await press(s, "r")
        await wait_until(everyone, lambda: "READY_FOR_PICKUP" in status_of(customer, "order-table", "ord-000001"))

        # the rider sees it available, picks it up and delivers it
        await wait_until(everyone, lambda: row_of(rider, "available", "ord-000001"), what="the rider to see the delivery")
        await press(r, "p")
        await wait_until(everyone, lambda: "DELIVERING" in status_of(customer, "order-table", "ord-000001"))
        await wait_until(everyone, lambda: row_of(rider, "mine", "ord-000001"))
        await press(r, "tab")
        await press(r, "c")
        await wait_until(everyone, lambda: "DELIVERED" in status_of(customer, "order-table", "ord-000001"))
        await wait_until(everyone, lambda: "COMPLETED" in status_of(rider, "mine", "ord-000001"))

        # the customer confirms; every change was also a notification
        await press(c, "d")
        await wait_until(everyone, lambda: "CONFIRMED" in status_of(customer, "order-table", "ord-000001"))
        await wait_until(everyone, lambda: any("You confirmed delivery of order ord-000001" in n for n in notifications(customer)))
        await press(c, "3")
        await wait_until(c, lambda: len(rows(customer, "note-table")) == 7, what="seven notifications")
        assert [row[2].split()[1] for row in rows(customer, "note-table")] == [
            "CONFIRMED", "DELIVERED", "DELIVERING", "READY_FOR_PICKUP", "COOKING", "PAID", "PENDING_PAYMENT"
        ]
        await wait_until(everyone, lambda: any("The customer confirmed order ord-000001" in n for n in notifications(rider)))

        # the order's detail shows the whole timeline
        await press(c, "2")
        await wait_until(c, lambda: customer.focused is not None and customer.focused.id == "order-table")
        await press(c, "enter")
        await on_screen(c, "OrderDetailScreen")
        await wait_until(c, lambda: rows(customer, "timeline") and rows(customer, "timeline")[-1][3] == "DeliveryConfirmed")
        statuses = [row[2] for row in rows(customer, "timeline")]
        assert statuses[0] == "… PENDING_PAYMENT" and statuses[-1] == "✔ CONFIRMED"
        await press(c, "escape")
        await on_screen(c, "CustomerScreen")
