"""`init [--demo]` and the reference data groups: stores, customers, riders, menus (SPEC §8)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from deliverycli.engine.storage import SCHEMA_HEAD

from .support import assert_error, run_all, snapshot

DEMO_COUNTS = {"stores": 3, "menu_items": 11, "customers": 5, "riders": 3}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- init ---------------------------------------------------------------------------------------


def test_init_creates_an_owner_only_sqlite_file_and_is_idempotent(tmp_path: Path, cli) -> None:
    db = tmp_path / "new" / "folder" / "shop.db"
    first = cli("init", "--demo", "--json", db=str(db))
    assert first.code == 0, first.stderr
    report = first.json
    assert report["created"] is True and report["upgraded"] is False
    assert report["schema_before"] is None and report["schema"] == SCHEMA_HEAD
    assert report["demo"] == DEMO_COUNTS
    assert report["path"] == str(db)
    assert db.exists() and mode(db) == 0o600  # the database holds customers' addresses: owner only
    assert mode(db.with_name("shop-gateway.db")) == 0o600
    assert mode(db.parent) == 0o700

    second = cli("init", "--demo", db=str(db))
    assert second.code == 0, second.stderr
    assert str(db) in second.stdout
    assert f"already at schema revision {SCHEMA_HEAD}" in second.stdout
    assert "nothing was added" in second.stdout
    assert f"deliverycli --db {db} stores list" in second.stdout  # what to try next
    assert mode(db) == 0o600

    catalog = snapshot(str(db))
    assert len(catalog["stores"]) == 3 and len(catalog["menu"]) == 11
    assert len(catalog["customers"]) == 5 and len(catalog["riders"]) == 3


def test_init_then_init_demo_on_every_backend(db_url: str, cli) -> None:
    plain = cli("init", "--json", db=db_url)
    assert plain.code == 0, plain.stderr
    assert plain.json["created"] is True and plain.json["demo"] is None and plain.json["schema"] == SCHEMA_HEAD
    assert snapshot(db_url)["stores"] == []

    demo = cli("init", "--demo", "--json", db=db_url)
    assert demo.code == 0, demo.stderr
    assert demo.json["created"] is False and demo.json["schema_before"] == SCHEMA_HEAD
    assert demo.json["demo"] == DEMO_COUNTS
    assert any("stores list" in line for line in demo.json["next"])


def test_commands_on_a_missing_database_exit_3_and_create_nothing(tmp_path: Path, cli) -> None:
    db = tmp_path / "missing" / "nothing.db"
    result, human = run_all(cli, [("stores", "list", "--json"), ("menus", "list")], db=str(db))
    assert_error(result, 3, "deliverycli init")
    assert human.code == 3
    assert "deliverycli init" in human.stderr and human.stdout == ""
    assert not (tmp_path / "missing").exists()  # neither the file, its gateway sibling nor the folder


# -- lists --------------------------------------------------------------------------------------


def test_every_list_command_prints_an_array_of_objects_with_an_id(demo_db: str, cli) -> None:
    calls = [("stores", "list", "--json"), ("customers", "list", "--json"), ("riders", "list", "--json"), ("menus", "list", "--json"), ("--json", "menus", "list", "--store", "seoul-bbq")]
    stores, customers, riders, menu, one_store = (r.json for r in run_all(cli, calls, db=demo_db))
    for rows in (stores, customers, riders, menu, one_store):
        assert isinstance(rows, list) and rows and all(isinstance(r, dict) and "id" in r for r in rows)
    assert {r["id"] for r in stores} == {"pizza-palace", "seoul-bbq", "green-bowl"}
    assert {"name", "address"} <= set(stores[0])
    assert {r["id"] for r in customers} == {"alice", "bob", "carol", "dave", "erin"}
    assert {r["id"] for r in riders} == {"rider-kim", "rider-lee", "rider-park"}
    assert {"name", "vehicle"} <= set(riders[0])
    assert len(menu) == 11 and all({"store_id", "name", "price", "available"} <= set(r) for r in menu)
    assert all(isinstance(r["price"], int) for r in menu)  # integer minor units, never float
    assert {r["store_id"] for r in one_store} == {"seoul-bbq"}
    assert {r["id"] for r in one_store} == {"bulgogi", "bibimbap", "japchae", "sikhye"}


# -- adds ---------------------------------------------------------------------------------------


def test_add_commands_add_reference_data(demo_db: str, cli) -> None:
    store = cli("stores", "add", "--id", "taco-town", "--name", "Taco Town", "--address", "5 Salsa Rd", "--json", db=demo_db)
    assert store.code == 0, store.stderr
    assert store.json == {"id": "taco-town", "name": "Taco Town", "address": "5 Salsa Rd", "prep_min": 15, "paused": False, "pause_reason": None}

    item = cli("menus", "add", "--store", "taco-town", "--id", "al-pastor", "--name", "Al pastor taco", "--price", "4500", db=demo_db)
    assert item.code == 0, item.stderr
    assert "al-pastor" in item.stdout and "4,500 KRW" in item.stdout

    customer, rider = run_all(
        cli,
        [("--json", "customers", "add", "--id", "frank", "--name", "Frank Yoon", "--address", "1 Oak St"), ("riders", "add", "--id", "rider-cho", "--name", "Yuna Cho", "--json")],
        db=demo_db,
    )
    assert customer.code == 0 and customer.json["id"] == "frank"
    assert rider.code == 0 and rider.json == {"id": "rider-cho", "name": "Yuna Cho", "vehicle": "scooter"}

    catalog = snapshot(demo_db)
    assert {"id": "al-pastor", "store_id": "taco-town", "name": "Al pastor taco", "price": 4500, "available": True} in catalog["menu"]
    assert "frank" in {c["id"] for c in catalog["customers"]}
    assert "rider-cho" in {r["id"] for r in catalog["riders"]}


BAD_ADDS = [
    pytest.param(("stores", "add", "--id", "pizza-palace", "--name", "Again", "--address", "1 St"), 4, "already exists", id="duplicate-store"),
    pytest.param(("menus", "add", "--store", "seoul-bbq", "--id", "bulgogi", "--name", "B", "--price", "100"), 4, "already exists", id="duplicate-item"),
    pytest.param(("menus", "add", "--store", "nope", "--id", "x1", "--name", "X", "--price", "100"), 3, "nope", id="unknown-store"),
    pytest.param(("menus", "list", "--store", "nope"), 3, "nope", id="unknown-store-list"),
    pytest.param(("stores", "add", "--id", "Bad Id!", "--name", "X", "--address", "1 St"), 2, "not valid", id="bad-store-id"),
    pytest.param(("riders", "add", "--id", "r2", "--name", "   "), 2, "name", id="empty-name"),
    pytest.param(("menus", "add", "--store", "seoul-bbq", "--id", "x1", "--name", "X", "--price", "0"), 2, "price", id="zero-price"),
    pytest.param(("menus", "add", "--store", "seoul-bbq", "--id", "x1", "--name", "X", "--price", "-5"), 2, "price", id="negative-price"),
    pytest.param(("menus", "add", "--store", "seoul-bbq", "--id", "x1", "--name", "X", "--price", "12.5"), 2, "price", id="fractional-price"),
]


def test_bad_adds_exit_with_their_codes_and_change_nothing(demo_db: str, cli) -> None:
    before = snapshot(demo_db)
    results = run_all(cli, [param.values[0] + ("--json",) for param in BAD_ADDS], db=demo_db)
    for param, result in zip(BAD_ADDS, results, strict=True):
        _, exit_code, fragment = param.values
        assert_error(result, exit_code, fragment)
    assert snapshot(demo_db) == before
