"""Issue 9 §8 through the library: the engine's input checks name the field at fault, not a CLI flag
(issue 11: the engine does not speak CLI), and the CLI words the field as its option."""

from __future__ import annotations

import pytest

from deliverycli.engine import validation
from deliverycli.engine.errors import InvalidInput

from .support import demo

BAD_PLACEMENTS = [
    ({"items": ["margherita:²"]}, "items"),
    ({"items": ["margherita:٣"]}, "items"),
    ({"items": [":2"]}, "items"),
    ({"items": []}, "items"),
    ({"card": "²" * 16}, "card"),
    ({"card": "4242"}, "card"),
    ({"idempotency_key": " k "}, "idempotency_key"),
    ({"address": "a\u009bb"}, "address"),
    ({"address": "\u202eexe.txt"}, "address"),
    ({"address": "\u200b\ufeff"}, "address"),
]


@pytest.mark.parametrize(("change", "field"), BAD_PLACEMENTS)
def test_the_engine_names_the_field_and_no_cli_flag(sqlite_db: str, change: dict, field: str) -> None:
    request = {"customer_id": "alice", "store_id": "pizza-palace", "items": ["margherita"], "address": "1 Main St"} | change
    with demo(sqlite_db) as engine:
        with pytest.raises(InvalidInput) as caught:
            engine.orders.place(**request)
        assert engine.orders.list() == []
    assert caught.value.field == field
    assert "--" not in caught.value.message, caught.value.message


def test_catalog_checks_name_their_fields(sqlite_db: str) -> None:
    with demo(sqlite_db) as engine:
        cases = [
            (lambda: engine.catalog.add_store("Bad Id", "X", "Y"), "id"),
            (lambda: engine.catalog.add_customer("newbie", "\u3164", "Y"), "name"),
            (lambda: engine.catalog.add_rider("rider-new", "R", "ca\u2028r"), "vehicle"),
            (lambda: engine.catalog.add_menu_item("NOPE!", "dish", "Dish", 100), "store"),
            (lambda: engine.catalog.add_menu_item("pizza-palace", "dish", "Dish", 0), "price"),
        ]
        for call, field in cases:
            with pytest.raises(InvalidInput) as caught:
                call()
            assert caught.value.field == field and "--" not in caught.value.message


def test_text_is_normalised_and_checked() -> None:
    assert validation.check_text("address", "  Cafe\u0301 \u00a0", 50) == "Caf\u00e9"
    assert validation.check_text("address", "서울 🍕 \u200d", 50) == "서울 🍕 \u200d"  # a joiner next to visible text is fine
    for bad in ("a\x00b", "a\x1bb", "a\x7fb", "a\x85b", "a\u009bb", "a\u2028b", "a\u2029b", "\u202ax", "x\u2067", "\u2800", "\u180e", "\u0301"):
        with pytest.raises(InvalidInput):
            validation.check_text("address", bad, 50)


def test_whole_numbers_are_ascii_and_bounded() -> None:
    assert validation.parse_item("margherita:12") == ("margherita", 12)
    for bad in ("margherita:²", "margherita:１", "margherita:٣", "margherita:+1", "margherita: 1", "margherita:1_0", "margherita:0"):
        with pytest.raises(InvalidInput):
            validation.parse_item(bad)


def test_currency_codes_are_iso_4217() -> None:
    assert validation.check_currency("krw") == "KRW" and validation.check_currency("EUR") == "EUR"
    for bad in ("ABC", "K R", "₩", "KRWX", "", "XXX"):
        with pytest.raises(InvalidInput):
            validation.check_currency(bad)


def test_the_cli_words_a_field_as_its_option(sqlite_db: str, cli) -> None:
    with demo(sqlite_db):
        pass
    result = cli("orders", "place", "--customer", "alice", "--store", "pizza-palace", "--item", "margherita", "--address", "x",
                 "--card", "²" * 16, "--json", db=sqlite_db)
    assert result.code == 2 and result.json["error"]["message"].startswith("--card: ")
