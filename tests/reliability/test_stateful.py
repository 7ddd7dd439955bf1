"""§2 Random command sequences: a hypothesis state machine drives random commands from every role
(customers, stores, riders; illegal ones included: unknown ids, wrong actors, wrong states, bad
input) through the engine, predicts each outcome (exit code and resulting status) from the order's
current status, and checks every invariant after every step. 500 examples on SQLite and 60 on
PostgreSQL in `make test`; many more under `-m slow`.

Each example starts from an emptied demo database (the catalog stays; every order, event,
position, payment, breaker state and provider charge is removed), so examples are independent.
A step that wrote nothing (the head of the event log did not move, as for every refused command)
is checked to have written nothing; a step that did is followed by the full invariant check."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from deliverycli.engine.payment import simulated
from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.errors import DeliveryError, PaymentFailed
from deliverycli.settings import load_settings

from .support import assert_invariants, demo

CUSTOMERS = ["alice", "bob", "carol"]
STORES = ["pizza-palace", "seoul-bbq"]
RIDERS = ["rider-kim", "rider-lee"]
MENU = {"pizza-palace": ["margherita", "cola"], "seoul-bbq": ["bulgogi", "sikhye"]}
DECLINE, FAIL = "4000000000000002", "4000000000000119"
CATALOG = {"stores", "menu_items", "customers", "riders", "alembic_version"}

customers = st.sampled_from(CUSTOMERS + ["zed"])
stores = st.sampled_from(STORES + ["nowhere"])
riders = st.sampled_from(RIDERS + ["rider-zed"])


def reset(engine: Engine, tables: list[str]) -> None:
    """Empty everything but the catalog (and restart order numbers), in the database and the ledger;
    forget what the engine's message bus remembers of positions and retries."""
    with engine.db.begin() as conn:
        for name in tables:
            if name == "order_numbers":
                conn.exec_driver_sql("UPDATE order_numbers SET last = 0")
            else:
                conn.exec_driver_sql(f"DELETE FROM {name}")
    gateway = engine.gateway
    assert isinstance(gateway, simulated.SimulatedGateway)
    with gateway.db.begin() as conn:
        simulated.gateway_metadata.create_all(conn, checkfirst=True)
        for table in reversed(simulated.gateway_metadata.sorted_tables):  # the ledger and the voided keys
            conn.execute(table.delete())
    engine.bus.forget()


class Shop(RuleBasedStateMachine):
    shared: ClassVar[Engine | None] = None  # one engine for the run: its compiled statements are reused
    tables: ClassVar[list[str]] = []
    steps: ClassVar[list[int]] = [0, 0]  # [examples, steps] over the run, for the report

    def __init__(self) -> None:
        super().__init__()
        assert self.shared is not None
        self.engine = self.shared
        reset(self.engine, self.tables)
        self.orders: dict[str, dict[str, str]] = {}
        self.head = 0
        Shop.steps[0] += 1

    # -- helpers --------------------------------------------------------------------------------

    def pick(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.orders) + ["ord-999999"]), label="order")

    def status(self, order_id: str) -> tuple[str | None, str | None]:
        if order_id not in self.orders:
            return None, None
        view = self.engine.orders.status(order_id)
        return view.status, view.rider_id

    def attempt(self, expected: int | None, fn: Any, *args: Any) -> int:
        """Run a command; the exit code it got (0 for success) must be the one predicted."""
        Shop.steps[1] += 1
        try:
            fn(*args)
            got = 0
        except DeliveryError as exc:
            got = exc.exit_code
        assert got == expected, f"{fn.__name__}{args}: exit {got}, expected {expected}"
        return got

    # -- customers --------------------------------------------------------------------------------

    @initialize()
    def first_order(self) -> None:
        oid = self.engine.orders.place("alice", "pizza-palace", ["margherita:2"], "1 Main St").id
        self.orders[oid] = {"customer": "alice", "store": "pizza-palace"}

    @rule(
        customer=customers,
        store=stores,
        data=st.data(),
        card=st.sampled_from([None, None, None, DECLINE, FAIL, "12ab"]),
        address=st.sampled_from(["1 Main St", "1 Main St", "서울 강남구 🍕", "", "x" * 501, "a\x07b", "'; DROP TABLE orders; --"]),
    )
    def place(self, customer: str, store: str, data: st.DataObject, card: str | None, address: str) -> None:
        menu = [m for ms in MENU.values() for m in ms] + ["ghost"]
        items = data.draw(st.lists(st.tuples(st.sampled_from(menu), st.sampled_from([1, 1, 2, 99, 0, -1, 100])), min_size=0, max_size=3), label="items")
        specs = [f"{m}:{q}" for m, q in items]
        valid_input = (
            customer in CUSTOMERS and store in STORES and items and card != "12ab" and address.strip() and len(address) <= 500 and "\x07" not in address
            and all(m in MENU[store] for m, _ in items) and all(1 <= q <= 99 for _, q in items)
            and all(sum(q for m2, q in items if m2 == m) <= 99 for m, _ in items)
        )
        before = len(self.orders)
        Shop.steps[1] += 1
        try:
            placed = self.engine.orders.place(customer, store, specs, address, card=card)
        except PaymentFailed as failed:
            assert valid_input and card in (DECLINE, FAIL) or failed.unavailable, (failed.message, items, card)
            if failed.order_id:
                assert self.engine.orders.status(failed.order_id).status == "REJECTED"
                self.orders[failed.order_id] = {"customer": customer, "store": store}
            return
        except DeliveryError as exc:
            assert not valid_input or "breaker" in exc.message, (exc.message, customer, store, items, card, address)
            assert exc.exit_code in (2, 3), exc.message
            return
        assert valid_input and card not in (DECLINE, FAIL), (customer, store, items, card, address)
        assert placed.status == "PAID" and placed.address == address.strip()
        self.orders[placed.id] = {"customer": customer, "store": store}
        assert len(self.orders) == before + 1

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), customer=customers)
    def cancel(self, data: st.DataObject, customer: str) -> None:
        oid = self.pick(data)
        status, _ = self.status(oid)
        owner = self.orders.get(oid, {}).get("customer")
        expected = 3 if customer not in CUSTOMERS or status is None else 5 if customer != owner else 0 if status == "PAID" else 4
        if self.attempt(expected, self.engine.orders.cancel, oid, customer) == 0:
            assert self.status(oid)[0] == "CANCELLED" and self.engine.payments.get(oid).status == "REFUNDED"

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), customer=customers)
    def confirm(self, data: st.DataObject, customer: str) -> None:
        oid = self.pick(data)
        status, _ = self.status(oid)
        owner = self.orders.get(oid, {}).get("customer")
        expected = 3 if customer not in CUSTOMERS or status is None else 5 if customer != owner else 0 if status == "DELIVERED" else 4
        if self.attempt(expected, self.engine.orders.confirm, oid, customer) == 0:
            assert self.status(oid)[0] == "CONFIRMED"

    # -- stores -----------------------------------------------------------------------------------

    def _store_expected(self, oid: str, store: str, ok_from: str) -> int:
        status, _ = self.status(oid)
        if store not in STORES or status in (None, "REJECTED"):
            return 3  # unknown store, or no ticket (unknown order, or its payment was declined)
        if store != self.orders[oid]["store"]:
            return 5
        return 0 if status == ok_from else 4

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), store=stores)
    def accept(self, data: st.DataObject, store: str) -> None:
        oid = self.pick(data)
        if self.attempt(self._store_expected(oid, store, "PAID"), self.engine.store.accept, oid, store) == 0:
            assert self.status(oid)[0] == "COOKING"

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), store=stores, reason=st.sampled_from(["out of dough", "", "z" * 600]))
    def reject(self, data: st.DataObject, store: str, reason: str) -> None:
        oid = self.pick(data)
        expected = 2 if not reason or len(reason) > 500 else self._store_expected(oid, store, "PAID")
        if self.attempt(expected, self.engine.store.reject, oid, store, reason) == 0:
            assert self.status(oid)[0] == "CANCELLED" and self.engine.payments.get(oid).status == "REFUNDED"

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), store=stores)
    def ready(self, data: st.DataObject, store: str) -> None:
        oid = self.pick(data)
        if self.attempt(self._store_expected(oid, store, "COOKING"), self.engine.store.ready, oid, store) == 0:
            assert self.status(oid)[0] == "READY_FOR_PICKUP"

    # -- riders -----------------------------------------------------------------------------------

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), rider=riders)
    def pick_up(self, data: st.DataObject, rider: str) -> None:
        oid = self.pick(data)
        status, _ = self.status(oid)
        has_delivery = status in ("READY_FOR_PICKUP", "DELIVERING", "DELIVERED", "CONFIRMED")
        expected = 3 if rider not in RIDERS or not has_delivery else 0 if status == "READY_FOR_PICKUP" else 4
        if self.attempt(expected, self.engine.deliveries.pick_up, oid, rider) == 0:
            assert self.status(oid) == ("DELIVERING", rider)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), rider=riders)
    def complete(self, data: st.DataObject, rider: str) -> None:
        oid = self.pick(data)
        status, picker = self.status(oid)
        if rider not in RIDERS or status not in ("READY_FOR_PICKUP", "DELIVERING", "DELIVERED", "CONFIRMED"):
            expected = 3
        elif status == "READY_FOR_PICKUP":
            expected = 4  # nobody picked it up yet
        elif rider != picker:
            expected = 5
        else:
            expected = 0 if status == "DELIVERING" else 4
        if self.attempt(expected, self.engine.deliveries.complete, oid, rider) == 0:
            assert self.status(oid)[0] == "DELIVERED"

    # -- after every step ---------------------------------------------------------------------------

    @invariant()
    def promises_hold(self) -> None:
        head = self.engine.events.head()
        if head == self.head:
            return  # nothing was written (every refused command lands here): nothing can have broken
        self.head = head
        assert set(self.engine.ops.lag().values()) == {0}  # each command settled its sagas
        assert self.engine.ops.dead_letters() == []
        assert_invariants(self.engine)


def _run(db: str, examples: int, steps: int = 6) -> list[int]:
    demo(db).close()
    Shop.shared = Engine.open(load_settings(db=db, retry_backoff_s=0.001), catch_up=False)
    with Shop.shared.read() as conn:
        Shop.tables = sorted(set(sa.inspect(conn).get_table_names()) - CATALOG)
    Shop.steps = [0, 0]
    try:
        run_state_machine_as_test(
            Shop,
            settings=settings(
                max_examples=examples, stateful_step_count=steps, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        Shop.shared.close()
        Shop.shared = None
    return Shop.steps


EXAMPLES = {"sqlite": 500, "postgres": 60}


def test_random_command_sequences_keep_every_promise(db_url: str) -> None:
    backend = "postgres" if "://" in db_url else "sqlite"
    examples, steps = _run(db_url, EXAMPLES[backend])
    assert examples >= EXAMPLES[backend] and steps >= 2 * examples


@pytest.mark.slow
def test_random_command_sequences_keep_every_promise_long(db_url: str) -> None:
    backend = "postgres" if "://" in db_url else "sqlite"
    examples = int(os.environ.get("STATEFUL_EXAMPLES", 5000 if backend == "sqlite" else 1000))
    done, steps = _run(db_url, examples, steps=20)
    assert done >= examples
