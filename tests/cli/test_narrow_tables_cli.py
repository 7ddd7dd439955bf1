"""Human tables on an 80-column console (and narrower), through the real CLI in subprocesses: ids,
statuses and amounts are never cut ("ord-00…", "COMPLE…"); free text wraps; the less important
columns are hidden and the table says which. Every value is checked against the command's own --json."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from tests.conftest import open_demo_engine

from .support import place

GLYPH_STATUS = "PENDING_PAYMENT"  # its glyph is "…": the one "…" that belongs in a table


@pytest.fixture(scope="module")
def busy_db(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A demo database with an order in every interesting state (ids from the engine, not guessed)."""
    db = str(tmp_path_factory.mktemp("narrow") / "deliverycli.db")
    open_demo_engine(db).close()
    done = place(db, items=("margherita:2", "cola"))
    cancelled = place(db, customer="bob")
    rejected = place(db, customer="carol", store="seoul-bbq", items=("bulgogi",))
    cooking = place(db, customer="bob", items=("pepperoni",))
    with open_demo_engine(db) as engine:
        engine.store.accept(done, "pizza-palace")
        engine.store.ready(done, "pizza-palace")
        engine.deliveries.pick_up(done, "rider-kim")
        engine.deliveries.complete(done, "rider-kim")
        engine.orders.confirm(done, "alice")
        engine.orders.cancel(cancelled, "bob")
        engine.store.reject(rejected, "seoul-bbq", "the grill is being cleaned tonight, sorry")
        engine.store.accept(cooking, "pizza-palace")
    return {"db": db, "done": done, "cancelled": cancelled, "rejected": rejected, "cooking": cooking}


def narrow(cli, db: str, columns: int, *args: str, glyphs: int = 0):
    """The human output at ``columns`` wide: no line wider, and no "…" but the ``glyphs`` expected."""
    result = cli(*args, db=db, env={"COLUMNS": str(columns)})
    assert result.code == 0, (args, result.stderr)
    too_wide = [line for line in result.stdout.splitlines() if cell_len(line) > columns]
    assert not too_wide, f"{args}: lines wider than {columns}: {too_wide}"
    assert result.stdout.count("…") == glyphs, f"{args} cut something:\n{result.stdout}"
    return result.stdout


def pending_glyphs(cli, db: str, *args: str) -> int:
    """How many "…" glyphs the human output of a list shows: one per row whose status is pending payment."""
    return sum(1 for row in cli(*args, "--json", db=db).json if row.get("status") == GLYPH_STATUS)


def whole_words(text: str) -> set[str]:
    return {word.strip("│┃ ") for line in text.splitlines() for word in line.split()}


# (command, the JSON fields whose every value must appear whole in the table at 80 columns)
LISTS = [
    (("deliveries", "list"), ("id", "status", "store_id", "rider_id")),
    (("orders", "list"), ("id", "status", "customer_id", "store_id")),
    (("payments", "list"), ("id", "status")),
    (("notifications", "list"), ("order_id", "recipient")),
    (("store", "queue", "--store", "pizza-palace"), ("id",)),
    (("stores", "list"), ("id",)),
    (("customers", "list"), ("id",)),
    (("riders", "list"), ("id",)),
    (("menus", "list"), ("id", "store_id")),
]


@pytest.mark.parametrize(("args", "fields"), LISTS, ids=[" ".join(a[:2]) for a, _ in LISTS])
def test_lists_at_80_columns_keep_ids_and_statuses_whole(cli, busy_db, args, fields) -> None:
    db = busy_db["db"]
    rows = cli(*args, "--json", db=db).json
    assert rows, args
    glyphs = pending_glyphs(cli, db, *args) if args[0] == "notifications" else 0
    text = whole_words(narrow(cli, db, 80, *args, glyphs=glyphs))
    for row in rows:
        for field in fields:
            if row.get(field) is not None:
                assert str(row[field]) in text, f"{args}: {field}={row[field]!r} is not whole in the table"


def test_deliveries_at_80_columns_hide_times_and_say_so(cli, busy_db) -> None:
    db = busy_db["db"]
    text = narrow(cli, db, 80, "deliveries", "list")
    assert "COMPLETED" in text and busy_db["done"] in text and "rider-kim" in text
    assert "not shown at this width:" in text and "Picked up" in text  # the caption names what was hidden
    wide = cli("deliveries", "list", db=db, env={"COLUMNS": "200"}).stdout
    assert "Picked up" in wide and "not shown" not in wide  # all columns when there is room


def test_store_reasons_wrap_instead_of_being_cut(cli, busy_db) -> None:
    text = narrow(cli, busy_db["db"], 80, "store", "queue", "--store", "seoul-bbq")
    words = whole_words(text)
    for word in "the grill is being cleaned tonight, sorry".split():
        assert word in words, f"{word!r} missing from:\n{text}"


def test_status_timeline_at_80_columns(cli, busy_db) -> None:
    order = busy_db["cancelled"]
    view = cli("status", order, "--json", db=busy_db["db"]).json
    glyphs = sum(1 for entry in view["timeline"] if entry["status"] == GLYPH_STATUS)
    text = whole_words(narrow(cli, busy_db["db"], 80, "status", order, glyphs=glyphs))
    for entry in view["timeline"]:
        assert entry["event"] in text and entry["status"] in text


@pytest.mark.parametrize("columns", [60, 40])
def test_narrower_consoles_fold_ids_rather_than_cut_them(cli, busy_db, columns) -> None:
    """Below what even the kept columns need, an id continues on the next line; no "…", no cropping."""
    db = busy_db["db"]
    narrow(cli, db, columns, "deliveries", "list")
    narrow(cli, db, columns, "orders", "list")
    narrow(cli, db, columns, "notifications", "list", glyphs=pending_glyphs(cli, db, "notifications", "list"))
