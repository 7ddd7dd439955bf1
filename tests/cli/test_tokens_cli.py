"""tokens create|list|revoke: a token is shown once, stored only as its SHA-256, and revocable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy as sa

from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings


def test_create_list_revoke(sqlite_db: str, cli) -> None:
    assert cli("init", "--demo", db=sqlite_db).code == 0
    made = cli("--json", "tokens", "create", "--role", "customer", "--as", "alice", db=sqlite_db)
    assert made.code == 0, made.stderr
    issued = made.json
    assert set(issued) >= {"id", "token", "role", "actor_id"} and (issued["role"], issued["actor_id"]) == ("customer", "alice")
    assert issued["token"].startswith("dlv_") and len(issued["token"]) - 4 >= 43  # 32 random bytes, base64url: 256 bits
    ops = cli("--json", "tokens", "create", "--role", "ops", db=sqlite_db).json
    assert ops["actor_id"] is None and ops["token"] != issued["token"]

    listed = cli("--json", "tokens", "list", db=sqlite_db).json
    assert [(t["id"], t["role"], t["revoked_at"]) for t in listed] == [(issued["id"], "customer", None), (ops["id"], "ops", None)]
    assert all("token" not in t for t in listed)
    human = cli("tokens", "list", db=sqlite_db)
    assert issued["id"] in human.stdout and issued["token"] not in human.stdout

    revoked = cli("--json", "tokens", "revoke", issued["id"], db=sqlite_db)
    assert revoked.code == 0 and revoked.json["revoked_at"]
    again = cli("--json", "tokens", "revoke", issued["id"], db=sqlite_db)
    assert again.code == 0 and again.json["revoked_at"] == revoked.json["revoked_at"]  # revoking twice changes nothing
    assert [t["id"] for t in cli("--json", "tokens", "list", "--active", db=sqlite_db).json] == [ops["id"]]

    with Engine.open(load_settings(db=sqlite_db), catch_up=False) as engine:
        assert engine.tokens.authenticate(issued["token"]) is None  # revoked
        actor = engine.tokens.authenticate(ops["token"])
        assert actor is not None and (actor.role, actor.actor_id, actor.token_id) == ("ops", None, ops["id"])
        assert engine.tokens.authenticate(ops["token"] + "x") is None
        assert engine.tokens.authenticate("not a token") is None


def test_only_the_hash_is_stored(sqlite_db: str, cli) -> None:
    cli("init", "--demo", db=sqlite_db)
    token = cli("--json", "tokens", "create", "--role", "store", "--as", "pizza-palace", db=sqlite_db).json["token"]
    engine = sa.create_engine(f"sqlite:///{sqlite_db}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        stored = conn.execute(sa.text("SELECT token_hash FROM api_tokens")).scalar_one()
    engine.dispose()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    for path in Path(sqlite_db).parent.iterdir():  # the database, its WAL, the gateway's ledger: the secret is nowhere
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_bad_requests_say_why_and_create_nothing(sqlite_db: str, cli) -> None:
    cli("init", "--demo", db=sqlite_db)
    for args, code, words in (
        (["--role", "chef", "--as", "alice"], 2, "not one of"),
        (["--role", "ops", "--as", "alice"], 2, "do not name one"),
        (["--role", "rider"], 2, "must name the rider"),
        (["--role", "store", "--as", "nowhere"], 3, "no store 'nowhere'"),
    ):
        result = cli("--json", "tokens", "create", *args, db=sqlite_db)
        assert result.code == code and words in result.json["error"]["message"], (args, result.stdout, result.stderr)
    assert cli("--json", "tokens", "list", db=sqlite_db).json == []
    missing = cli("--json", "tokens", "revoke", "tok_000000000000", db=sqlite_db)
    assert missing.code == 3 and missing.json["error"]["code"] == "not_found"
