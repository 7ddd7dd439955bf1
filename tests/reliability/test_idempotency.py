"""Issue 9 §8: an idempotency key reused with another request is a conflict (exit 4, naming the key),
as payment APIs answer; the same request returns the first result, charged once. And the currency
a database keeps its prices in is recorded at init and holds for every later process."""

from __future__ import annotations



from .procs import fork_cli, warm_up
from .support import assert_invariants, demo, diff, downgrade, dump, open_engine

KEY = "checkout-7f3a"


def _place(db: str, *, items: tuple[str, ...] = ("margherita:2",), address: str = "1 Key St", card: str | None = None, key: str = KEY):
    args = ["orders", "place", "--customer", "alice", "--store", "pizza-palace", "--address", address, "--idempotency-key", key, "--json"]
    for item in items:
        args += ["--item", item]
    if card is not None:
        args += ["--card", card]
    return fork_cli(*args, db=db)


def test_a_key_reused_for_another_request_is_a_conflict_and_the_same_request_is_the_first_result(db_url: str) -> None:
    warm_up()
    with demo(db_url):
        pass
    first = _place(db_url)
    assert first.code == 0, first.stdout
    # the same request, also written differently (two lines of one item), is the first order again
    for again in (_place(db_url), _place(db_url, items=("margherita", "margherita")), _place(db_url, card="4242 4242 4242 4242")):
        assert again.code == 0, again.stdout
        assert again.json["id"] == first.json["id"] and again.json["status"] == "PAID"
    before = dump(db_url)
    for other in (_place(db_url, items=("margherita:3",)), _place(db_url, items=("margherita:2", "cola")),
                  _place(db_url, address="2 Other St"), _place(db_url, card="4000000000000002")):
        assert other.code == 4, other.stdout
        error = other.error()
        assert error["code"] == "conflict" and KEY in error["message"] and first.json["id"] in error["message"], error
    assert diff(before, dump(db_url)) == []  # refused: nothing written, nothing charged
    with open_engine(db_url) as engine:
        assert [p.order_id for p in engine.payments.list()] == [first.json["id"]]
        assert_invariants(engine)


def test_the_library_gets_the_same_answers(db_url: str) -> None:
    from deliverycli.engine.errors import Conflict

    with demo(db_url) as engine:
        first = engine.orders.place("bob", "seoul-bbq", [("bulgogi", 1)], "3 Lib St", idempotency_key="lib-1")
        assert engine.orders.place("bob", "seoul-bbq", ["bulgogi:1"], "3 Lib St", idempotency_key="lib-1").id == first.id
        try:
            engine.orders.place("bob", "seoul-bbq", ["bulgogi:1"], "3 Lib Street", idempotency_key="lib-1")
        except Conflict as exc:
            assert "lib-1" in exc.message
        else:
            raise AssertionError("a different address under the same key was accepted")


def test_a_database_keeps_the_currency_it_was_created_with(tmp_path) -> None:
    warm_up()
    db = str(tmp_path / "usd.db")
    usd = {"DELIVERYCLI_CURRENCY": "USD"}
    assert fork_cli("init", "--demo", "--json", db=db, env=usd).code == 0
    placed = fork_cli("orders", "place", "--customer", "alice", "--store", "pizza-palace", "--item", "cola", "--address", "1 St", "--json", db=db, env=usd)
    assert placed.code == 0 and placed.json["currency"] == "USD", placed.stdout
    before = dump(db)
    for args in (("orders", "list"), ("init",), ("orders", "place", "--customer", "bob", "--store", "pizza-palace", "--item", "cola", "--address", "2 St")):
        refused = fork_cli(*args, "--json", db=db)  # the default currency, KRW
        assert refused.code == 2, (args, refused.stdout)
        assert "USD" in refused.error()["message"] and "KRW" in refused.error()["message"]
    assert diff(before, dump(db)) == []
    for bad in ("ABC", "₩", "usdollar"):
        result = fork_cli("orders", "list", "--json", db=db, env={"DELIVERYCLI_CURRENCY": bad})
        assert result.code == 2 and "ISO 4217" in result.error()["message"], result.stdout


def test_an_upgraded_database_takes_the_currency_of_its_orders(tmp_path) -> None:
    """A database from before 0003 keeps the currency its orders were placed in."""
    db = str(tmp_path / "old.db")
    with demo(db, currency="EUR") as engine:
        engine.orders.place("alice", "pizza-palace", ["cola"], "1 Old St")
    downgrade(db, "0002")  # as 0002 left it: no meta table
    with demo(db, currency="EUR") as engine:
        assert engine.orders.list()[0].currency == "EUR"
    refused = fork_cli("init", "--json", db=db)  # KRW now
    assert refused.code == 2 and "EUR" in refused.error()["message"]
