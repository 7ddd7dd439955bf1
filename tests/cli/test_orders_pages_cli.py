"""`orders list --after CURSOR` through the real CLI: keyset pages that cover every order once, the
cursor in --json and the hint on stderr, --offset still working, and bad cursors refused (exit 2)."""

from __future__ import annotations

import re

from .support import assert_error, open_engine, snapshot


def _place_many(db: str, n: int) -> list[str]:
    with open_engine(db) as engine:
        return [engine.orders.place(("alice", "bob")[i % 2], "pizza-palace", ["margherita"], f"{i} Page St").id for i in range(n)]


def test_after_pages_through_every_order_once(cli, demo_db):
    placed = _place_many(demo_db, 7)
    seen, after, pages = [], None, 0
    while True:
        args = ["orders", "list", "--limit", "3", "--json"] + (["--after", after] if after else [])
        result = cli(*args, db=demo_db)
        assert result.code == 0, result.stderr
        page = result.json
        assert isinstance(page, list) and all({"id", "status", "cursor"} <= set(o) for o in page)  # still an array (SPEC §8)
        seen += [o["id"] for o in page]
        pages += 1
        hint = re.search(r"--after (\S+)", result.stderr)
        if hint is None:
            break
        assert hint.group(1) == page[-1]["cursor"]  # the next page starts after the last order shown
        after = hint.group(1)
    assert pages == 3
    assert seen == sorted(placed, reverse=True)  # newest first, each once


def test_after_keeps_the_filters_and_the_text_mode_says_how_to_go_on(cli, demo_db):
    _place_many(demo_db, 6)
    first = cli("orders", "list", "--customer", "alice", "--limit", "2", db=demo_db)
    assert first.code == 0 and "ord-000005" in first.stdout and "ord-000003" in first.stdout
    cursor = re.search(r"--after (\S+)", first.stderr).group(1)
    rest = cli("orders", "list", "--customer", "alice", "--limit", "2", "--after", cursor, "--json", db=demo_db)
    assert [o["id"] for o in rest.json] == ["ord-000001"] and "--after" not in rest.stderr
    offset = cli("orders", "list", "--customer", "alice", "--limit", "2", "--offset", "2", "--json", db=demo_db)
    assert [o["id"] for o in offset.json] == ["ord-000001"]  # --offset still works


def test_bad_cursors_exit_2_and_change_nothing(cli, demo_db):
    _place_many(demo_db, 2)
    before = snapshot(demo_db)
    for bad in ("nonsense", "12ab.ord-1", "123.", ".ord-000001", "9" * 30 + ".x"):
        assert_error(cli("orders", "list", "--after", bad, "--json", db=demo_db), 2, "cursor")
    assert_error(cli("orders", "list", "--after", "1.ord-000001", "--offset", "1", "--json", db=demo_db), 2, "--after or --offset")
    assert_error(cli("orders", "list", "--after", "1.ord-000001", "--customer", "zed", "--json", db=demo_db), 3)
    assert snapshot(demo_db) == before
