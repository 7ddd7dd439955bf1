"""`doctor` (liveness and readiness, SPEC §7–§8) and `config show` (settings and their sources)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.storage import SCHEMA_HEAD
from deliverycli.settings import load_settings

from .support import assert_error, run_all


# -- doctor -------------------------------------------------------------------------------------


def test_doctor_on_a_healthy_database_exits_0_with_every_check(demo_db: str, cli) -> None:
    as_json, human = run_all(cli, [("doctor", "--json"), ("doctor",)], db=demo_db)
    assert as_json.code == 0, as_json.stdout + as_json.stderr
    report = as_json.json
    assert report["healthy"] is True and report["state"] == "healthy" and report["problems"] == []
    assert report["reachable"] is True and report["initialised"] is True
    assert report["schema"] == {"current": SCHEMA_HEAD, "expected": SCHEMA_HEAD, "ready": True}
    assert {s["id"] for s in report["subscribers"]} == {"ordering", "payment", "store", "delivery", "status", "notification"}
    assert all(s["lag"] == 0 for s in report["subscribers"])
    assert report["dead_letters"] == 0 and report["dead_letter_list"] == []
    assert report["breaker"]["state"] == "closed"
    assert report["pending_payments"] == 0
    assert report["orders_by_status"] == {}
    assert {"database", "backend", "events"} <= set(report)

    assert human.code == 0
    assert "healthy" in human.stdout and "closed" in human.stdout and SCHEMA_HEAD in human.stdout


def test_doctor_reports_an_uninitialised_database_and_exits_1(db_url: str, cli) -> None:
    as_json, human = run_all(cli, [("--json", "doctor"), ("doctor",)], db=db_url)
    assert as_json.code == 1, as_json.stderr
    report = as_json.json
    assert report["healthy"] is False and report["state"] == "not initialised"
    assert report["schema"]["current"] is None and report["schema"]["expected"] == SCHEMA_HEAD
    assert any("deliverycli init" in p for p in report["problems"])
    assert human.code == 1 and "not initialised" in human.stdout and "deliverycli init" in human.stdout
    if "://" not in db_url:
        assert not any(p.suffix == ".db" for p in Path(db_url).parent.iterdir())  # doctor observes: it creates nothing


def test_doctor_reports_unreachable_and_outdated_databases(tmp_path: Path, cli) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database, just bytes " * 200)
    old = str(tmp_path / "old.db")
    Engine.initialise(load_settings(db=old))[0].close()
    with sqlite3.connect(old) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    server_down = "postgresql://nobody@127.0.0.1:1/nothing"

    results = run_all(cli, [("doctor", "--json", {"db": str(garbage)}), ("doctor", "--json", {"db": server_down}), ("doctor", "--json", {"db": old})])
    for result in results:
        assert result.code == 7, result.stdout + result.stderr  # the database is unavailable (SPEC §8)
        assert result.json["healthy"] is False and result.json["problems"]
    bad_file, no_server, outdated = (r.json for r in results)
    assert bad_file["state"] == "damaged" and bad_file["reachable"] is True
    assert "not a database" in bad_file["problems"][0]
    assert no_server["state"] == "unreachable" and no_server["reachable"] is False and no_server["backend"] == "postgresql"
    assert outdated["state"] == "schema mismatch" and outdated["reachable"] is True
    assert outdated["schema"] == {"current": "0001", "expected": SCHEMA_HEAD, "ready": False}
    assert "run `deliverycli init` to upgrade it" in outdated["problems"][0]


def test_doctor_reports_a_lagging_subscriber_without_repairing_it(demo_db: str, cli) -> None:
    without_notifications = lambda subscribers: [s for s in subscribers if s.name != "notification"]  # noqa: E731
    with Engine.open(load_settings(db=demo_db), subscribers=without_notifications) as engine:  # notification falls behind
        engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Main St")

    result = cli("doctor", "--json", db=demo_db)
    assert result.code == 1, result.stdout + result.stderr
    report = result.json
    lag = {s["id"]: s["lag"] for s in report["subscribers"]}
    assert lag["notification"] > 0 and lag["status"] == 0
    assert any("subscriber notification" in p and "behind" in p for p in report["problems"])
    assert report["orders_by_status"] == {"PAID": 1}

    with Engine.open(load_settings(db=demo_db), catch_up=False) as engine:
        assert engine.ops.lag()["notification"] == lag["notification"]  # doctor only looked


# -- config show --------------------------------------------------------------------------------


def test_config_show_names_where_each_setting_came_from(tmp_path: Path, cli) -> None:
    config = tmp_path / "deliverycli.toml"
    config.write_text('payment_latency_ms = 25\nbreaker_fail_max = 3\npayment_timeout_s = 1.5\n')
    db = str(tmp_path / "from-cli.db")
    env = {"DELIVERYCLI_CONFIG": str(config), "DELIVERYCLI_PAYMENT_TIMEOUT_S": "7"}
    as_json, human, no_db = run_all(
        cli,
        [("config", "show", "--json", {"db": db}), ("config", "show", {"db": db}), ("--json", "config", "show")],
        env=env,
    )
    assert as_json.code == 0, as_json.stderr
    data = as_json.json
    assert data["file"] == str(config) and data["file_exists"] is True
    rows = {row["id"]: row for row in data["settings"]}
    assert rows["db"]["value"] == db and rows["db"]["source"] == "command line"
    assert rows["payment_timeout_s"]["value"] == 7.0  # environment beats the file
    assert rows["payment_timeout_s"]["source"] == "environment (DELIVERYCLI_PAYMENT_TIMEOUT_S)"
    assert rows["payment_latency_ms"]["value"] == 25 and rows["payment_latency_ms"]["source"].startswith("file")
    assert rows["breaker_fail_max"]["value"] == 3 and str(config) in rows["breaker_fail_max"]["source"]
    assert rows["retry_max_attempts"]["source"] == "default"
    assert all(row["description"] for row in data["settings"])
    assert not Path(db).exists()  # showing settings touches no database

    assert human.code == 0
    assert str(config) in human.stdout
    assert "command line" in human.stdout and "DELIVERYCLI_PAYMENT_TIMEOUT_S" in human.stdout and "default" in human.stdout

    assert {row["id"]: row for row in no_db.json["settings"]}["db"]["source"] == "default"


def test_config_show_hides_a_database_password(cli) -> None:
    result = cli("config", "show", "--json", db="postgresql://shop:s3cret-pw@db.example:5432/shop")
    assert result.code == 0
    assert "s3cret-pw" not in result.stdout
    assert {row["id"]: row for row in result.json["settings"]}["db"]["value"] == "postgresql://shop:***@db.example:5432/shop"


def test_bad_settings_exit_2_with_a_clear_message(tmp_path: Path, cli) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("payment_timeout_s = [1,\n")
    shown, other_command, human, bad_file = run_all(
        cli,
        [
            ("config", "show", "--json", {"env": {"DELIVERYCLI_PAYMENT_FAILURE_RATE": "2"}}),
            ("stores", "list", "--json", {"db": str(tmp_path / "x.db"), "env": {"DELIVERYCLI_PAYMENT_FAILURE_RATE": "2"}}),
            ("config", "show", {"env": {"DELIVERYCLI_PAYMENT_FAILURE_RATE": "2"}}),
            ("config", "show", "--json", {"env": {"DELIVERYCLI_CONFIG": str(broken)}}),
        ],
    )
    for result in (shown, other_command):
        error = assert_error(result, 2, "payment_failure_rate", "less than or equal to 1")
        assert error["code"] == "invalid_input"
    assert human.code == 2 and human.stdout == ""
    assert "payment_failure_rate" in human.stderr and "DELIVERYCLI_" in human.stderr
    assert_error(bad_file, 2, str(broken))
    assert not (tmp_path / "x.db").exists()
