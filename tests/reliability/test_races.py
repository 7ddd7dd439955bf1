"""§3 Races between processes: several real CLI processes on one database, started at the same
instant. Where a single winner is required exactly one wins and the loser gets exit 4 and a clear
message; nothing is lost (the invariants hold afterwards), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

from deliverycli.engine import storage
from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings

from .procs import overlapped, race, warm_up
from .support import assert_invariants, demo, open_engine

ROUNDS = 2


def _ready_orders(db: str, n: int) -> list[str]:
    with demo(db) as engine:
        ids = []
        for i in range(n):
            oid = engine.orders.place("alice", "pizza-palace", ["cola"], f"{i} Race St").id
            engine.store.accept(oid, "pizza-palace")
            engine.store.ready(oid, "pizza-palace")
            ids.append(oid)
        return ids


def _paid_orders(db: str, customers: list[str], store: str = "pizza-palace", item: str = "cola") -> list[str]:
    with demo(db) as engine:
        return [engine.orders.place(c, store, [item], "1 Race St").id for c in customers]


def test_two_riders_picking_up_the_same_delivery_exactly_one_wins(db_url: str) -> None:
    warm_up()
    orders = _ready_orders(db_url, ROUNDS)
    overlaps = 0
    for oid in orders:
        results = race([("deliveries", "pickup", oid, "--rider", r, "--json") for r in ("rider-kim", "rider-lee")], db=db_url)
        overlaps += overlapped(results)
        codes = sorted(r.code for r in results)
        assert codes == [0, 4], [(r.code, r.stdout) for r in results]
        winner = next(r for r in results if r.code == 0).json
        loser = next(r for r in results if r.code == 4).error()
        assert loser["code"] == "conflict"
        assert f"already picked up by another rider ({winner['rider_id']})" in loser["message"]
        with open_engine(db_url) as engine:
            assert engine.orders.status(oid).status == "DELIVERING" and engine.orders.status(oid).rider_id == winner["rider_id"]
            assert [e.event_type for e in engine.events.read(order_id=oid)].count("DeliveryPickedUp") == 1
    assert overlaps >= 1, "the processes never ran at the same time"
    with open_engine(db_url) as engine:
        assert_invariants(engine)


def test_a_customer_cancelling_while_the_store_accepts(db_url: str) -> None:
    """Exactly one of them wins: cooking started (the cancellation is refused) or the order is
    cancelled and refunded (the store cannot accept it). A cancel that only got as far as
    CANCEL_PENDING is answered by the saga: refused when the store had accepted first."""
    warm_up()
    orders = _paid_orders(db_url, ["alice", "bob", "carol"][:ROUNDS])
    with open_engine(db_url) as engine:
        customers = {oid: engine.orders.get(oid).customer_id for oid in orders}
    outcomes = Counter()
    for oid in orders:
        cancel, accept = race(
            [("orders", "cancel", oid, "--customer", customers[oid], "--json"), ("store", "accept", oid, "--store", "pizza-palace", "--json")], db=db_url
        )
        assert cancel.code in (0, 4) and accept.code in (0, 4), (cancel.stdout, accept.stdout)
        with open_engine(db_url) as engine:  # catch-up settles the saga
            final = engine.orders.status(oid).status
            types = [e.event_type for e in engine.events.read(order_id=oid)]
        if accept.code == 0:
            outcomes["store won"] += 1
            assert final == "COOKING"
            assert types.count("PaymentRefunded") == 0
            if cancel.code == 4:
                assert "cooking" in cancel.error()["message"]
            else:  # asked before the store answered: the saga refused it and told the customer
                assert cancel.json["status"] == "CANCEL_PENDING" and "CancellationRefused" in types
        else:
            outcomes["customer won"] += 1
            assert "cancelled by the customer" in accept.error()["message"], accept.stdout
            assert cancel.code == 0 and final == "CANCELLED"
            assert types.count("PaymentRefunded") == 1 and "CookingStarted" not in types
    assert sum(outcomes.values()) == len(orders)
    with open_engine(db_url) as engine:
        assert_invariants(engine)


def test_two_cancels_of_one_order_refund_once(db_url: str) -> None:
    warm_up()
    orders = _paid_orders(db_url, ["dave"] * ROUNDS)
    for oid in orders:
        results = race([("orders", "cancel", oid, "--customer", "dave", "--json")] * 2, db=db_url)
        assert sorted(r.code for r in results) == [0, 4], [(r.code, r.stdout) for r in results]
        loser = next(r for r in results if r.code == 4).error()["message"]
        assert "already has a cancellation pending" in loser or "already cancelled" in loser, loser
        with open_engine(db_url) as engine:
            assert engine.orders.status(oid).status == "CANCELLED" and engine.payments.get(oid).status == "REFUNDED"
            assert [e.event_type for e in engine.events.read(order_id=oid)].count("PaymentRefunded") == 1
    with open_engine(db_url) as engine:
        assert_invariants(engine)


def test_two_stores_owners_acting_at_once(db_url: str) -> None:
    """Two owners work their own queues at the same instant; neither blocks or loses the other's
    work, and an owner reaching for the other store's order is refused (5) and changes nothing."""
    warm_up()
    pizza = _paid_orders(db_url, ["alice", "bob", "carol"])
    bbq = _paid_orders(db_url, ["dave", "erin", "alice"], store="seoul-bbq", item="bibimbap")
    accept = [("store", "accept", o, "--store", "pizza-palace", "--json") for o in pizza[:2]]
    accept += [("store", "reject", pizza[2], "--store", "pizza-palace", "--reason", "out of dough", "--json")]
    accept += [("store", "accept", o, "--store", "seoul-bbq", "--json") for o in bbq]
    accept += [("store", "accept", pizza[2], "--store", "seoul-bbq", "--json")]  # the wrong owner
    results = race(accept, db=db_url)
    assert [r.code for r in results] == [0] * 6 + [5], [(r.code, r.stdout) for r in results]
    assert "belongs to store pizza-palace" in results[-1].error()["message"]
    ready = race([("store", "ready", o, "--store", "pizza-palace", "--json") for o in pizza[:2]] + [("store", "ready", o, "--store", "seoul-bbq", "--json") for o in bbq], db=db_url)
    assert [r.code for r in ready] == [0] * 5, [(r.code, r.stdout) for r in ready]
    with open_engine(db_url) as engine:
        assert [engine.orders.status(o).status for o in pizza] == ["READY_FOR_PICKUP", "READY_FOR_PICKUP", "CANCELLED"]
        assert [engine.orders.status(o).status for o in bbq] == ["READY_FOR_PICKUP"] * 3
        assert sorted(d.id for d in engine.deliveries.list(available=True)) == sorted(pizza[:2] + bbq)
        assert engine.payments.get(pizza[2]).status == "REFUNDED"
        assert_invariants(engine)


def test_many_processes_placing_orders_together(db_url: str) -> None:
    warm_up()
    demo(db_url).close()
    customers = ["alice", "bob", "carol", "dave", "erin"] * 2
    calls = [("orders", "place", "--customer", c, "--store", "green-bowl", "--item", "poke", "--address", f"{i} Crowd St", "--json") for i, c in enumerate(customers)]
    keyed = ("orders", "place", "--customer", "erin", "--store", "green-bowl", "--item", "smoothie", "--address", "K St", "--idempotency-key", "retry-1", "--json")
    results = race(calls + [keyed, keyed], db=db_url)
    assert [r.code for r in results] == [0] * len(results), [(r.code, r.stdout, r.stderr) for r in results if r.code]
    ids = [r.json["id"] for r in results]
    assert len(set(ids[:-2])) == len(customers) and ids[-1] == ids[-2] and ids[-1] not in ids[:-2]
    with open_engine(db_url) as engine:
        listed = engine.orders.list(limit=100)
        assert sorted(o.id for o in listed) == sorted(set(ids))
        assert all(o.status == "PAID" for o in listed)
        assert len(engine.store.queue("green-bowl")) == len(customers) + 1
        result = assert_invariants(engine)
        assert result.orders == len(customers) + 1


# -- issue 9 §3: setting up at the same instant ------------------------------------------------------

DEMO_TOTALS = {"stores": 3, "menu_items": 11, "customers": 5, "riders": 3}


def test_three_inits_at_once_on_a_fresh_database(db_url: str) -> None:
    """One migrates while the others wait for it (an advisory lock on PostgreSQL); the demo data is
    added exactly once between them."""
    warm_up()
    results = race([("init", "--demo", "--json")] * 3, db=db_url)
    assert [r.code for r in results] == [0, 0, 0], [(r.code, r.stdout, r.stderr) for r in results]
    assert {r.json["schema"] for r in results} == {storage.SCHEMA_HEAD}
    added = Counter()
    for result in results:
        added.update(result.json["demo"])
    assert dict(added) == DEMO_TOTALS
    with open_engine(db_url) as engine:
        assert (len(engine.catalog.stores()), len(engine.catalog.menu()), len(engine.catalog.customers()), len(engine.catalog.riders())) == tuple(DEMO_TOTALS.values())


def test_three_simulations_at_once_on_a_fresh_database(db_url: str) -> None:
    """Each adds the simulated world it finds missing; rows another process just added are the
    same rows, not a failure."""
    warm_up()
    with Engine.initialise(load_settings(db=db_url))[0]:
        pass
    results = race([("simulate", "--orders", "15", "--seed", str(seed), "--json") for seed in (1, 2, 3)], db=db_url)
    assert [r.code for r in results] == [0, 0, 0], [(r.code, r.stdout, r.stderr) for r in results]
    assert all(r.json["orders"] == 15 and r.json["unfinished"] == 0 for r in results)
    with open_engine(db_url) as engine:
        assert sorted(s.id for s in engine.catalog.stores()) == ["sim-store-001", "sim-store-002", "sim-store-003"]
        assert len(engine.catalog.customers()) == 20 and len(engine.catalog.riders()) == 3
        assert_invariants(engine)


ADDS = {
    "customers": lambda id_, name: ("customers", "add", "--id", f"zoe-{id_}", "--name", name, "--address", "9 Same St", "--json"),
    "stores": lambda id_, name: ("stores", "add", "--id", f"noodle-bar-{id_}", "--name", name, "--address", "1 Wok Way", "--json"),
    "riders": lambda id_, name: ("riders", "add", "--id", f"rider-zed-{id_}", "--name", name, "--json"),
    "menus": lambda id_, name: ("menus", "add", "--store", "pizza-palace", "--id", f"calzone-{id_}", "--name", name, "--price", "15000", "--json"),
}


def test_three_processes_adding_the_same_reference_data_at_once(db_url: str) -> None:
    """The same request from three processes at once: all succeed, one row. Three different
    requests for one id: one succeeds, the others are told it already exists (exit 4)."""
    warm_up()
    demo(db_url).close()
    for round_ in range(ROUNDS):
        for kind, add in ADDS.items():
            same = race([add(f"same-{round_}", "Same Name")] * 3, db=db_url)
            assert [r.code for r in same] == [0, 0, 0], (kind, [(r.code, r.stdout, r.stderr) for r in same])
            assert len({r.stdout for r in same}) == 1
            different = race([add(f"different-{round_}", f"Other Name {n}") for n in range(3)], db=db_url)
            assert sorted(r.code for r in different) == [0, 4, 4], (kind, [(r.code, r.stdout, r.stderr) for r in different])
            for loser in (r for r in different if r.code == 4):
                assert loser.error()["code"] == "conflict" and "already exists" in loser.error()["message"]
    with open_engine(db_url) as engine:
        customers = {c.id: c.name for c in engine.catalog.customers()}
        assert customers["zoe-same-0"] == "Same Name" and customers["zoe-different-0"].startswith("Other Name")
        assert len(engine.catalog.stores()) == 3 + 2 * ROUNDS and len(engine.catalog.riders()) == 3 + 2 * ROUNDS
        assert len(engine.catalog.menu("pizza-palace")) == 4 + 2 * ROUNDS
