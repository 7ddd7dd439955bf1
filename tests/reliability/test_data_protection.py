"""§6 Data protection: the database files (ours, the provider's ledger, and SQLite's WAL and shared
memory files) are created owner-only; no card number is stored in clear anywhere."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .procs import fork_cli, warm_up
from .support import dump

CARDS = ["5555555555554444", "4000-0000-0000-0002", "4000 0000 0000 0119", "378282246310005"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_files_are_created_owner_only(tmp_path: Path) -> None:
    warm_up()
    old = os.umask(0o022)  # a permissive umask, as most shells have
    try:
        db = tmp_path / "new" / "nested" / "shop.db"
        assert fork_cli("init", "--demo", "--json", db=str(db)).code == 0
        placed = fork_cli("orders", "place", "--customer", "alice", "--store", "pizza-palace", "--item", "cola", "--address", "1 St", "--json", db=str(db))
        assert placed.code == 0
    finally:
        os.umask(old)
    files = sorted(p for p in db.parent.iterdir())
    names = {p.name for p in files}
    assert {"shop.db", "shop-gateway.db"} <= names, names
    for path in files:  # shop.db, shop-gateway.db and their -wal / -shm files while they exist
        assert _mode(path) == 0o600, (path.name, oct(_mode(path)))
    assert _mode(db.parent) == 0o700  # the folder it created for them (its parents follow the umask, as `mkdir -p -m` does)


def test_no_card_number_is_stored_in_clear(db_url: str, tmp_path: Path) -> None:
    warm_up()
    assert fork_cli("init", "--demo", "--json", db=db_url).code == 0
    for n, card in enumerate(CARDS):
        fork_cli("orders", "place", "--customer", "alice", "--store", "pizza-palace", "--item", "cola", "--address", f"{n} St", "--card", card, "--json", db=db_url)
    digits = [c.replace(" ", "").replace("-", "") for c in CARDS]
    everything = repr(dump(db_url))
    for card, number in zip(CARDS, digits):
        assert number not in everything and card not in everything
        assert number[-4:] in everything  # the masked suffix is kept
        assert number[:12] not in everything and number[-8:] not in everything
    if "://" not in db_url:  # and not in any byte of the files (free pages, the WAL) either
        for path in Path(db_url).parent.iterdir():
            raw = path.read_bytes()
            for number in digits:
                assert number.encode() not in raw and number[:12].encode() not in raw, path.name
