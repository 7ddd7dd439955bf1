"""Deadlines through the real CLI: `status` shows pending deadlines with their due time, a command's
process fires what is due (any process that catches up does), `doctor --check` warns about a timer
long overdue without calling the database unhealthy, and the deadline settings are validated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.clock import ManualClock
from deliverycli.settings import load_settings


def _placed_an_hour_ago(db: str) -> str:
    """An order paid an hour ago (its acceptance deadline long past), by a process that then stopped."""
    clock = ManualClock(datetime.now(UTC) - timedelta(hours=1))
    with Engine.open(load_settings(db=db), clock=clock) as engine:
        return engine.orders.place("alice", "green-bowl", ["poke"], "1 Main St").id


def test_status_shows_the_pending_deadline_with_its_due_time(cli, demo_db):
    with Engine.open(load_settings(db=demo_db)) as engine:
        order_id = engine.orders.place("alice", "green-bowl", ["poke"], "1 Main St").id
    shown = cli("status", order_id, "--json", db=demo_db)
    assert shown.code == 0
    [deadline] = shown.json["deadlines"]
    assert (deadline["kind"], deadline["state"]) == ("acceptance", "pending")
    placed = datetime.fromisoformat(shown.json["placed_at"])
    assert 600 <= (datetime.fromisoformat(deadline["due_at"]) - placed).total_seconds() < 660
    human = cli("status", order_id, db=demo_db)
    assert human.code == 0 and "Pending deadlines" in human.stdout and "rejected and refunded unless the store accepts" in human.stdout


def test_doctor_warns_about_an_overdue_timer_and_the_next_command_fires_it(cli, demo_db):
    order_id = _placed_an_hour_ago(demo_db)
    doctor = cli("doctor", "--check", "--json", db=demo_db)
    assert doctor.code == 0, doctor.stdout  # a warning, not a broken promise
    assert doctor.json["healthy"] and doctor.json["invariants"]["ok"]
    [warning] = doctor.json["warnings"]
    assert order_id in warning and "acceptance deadline" in warning
    assert [w["check"] for w in doctor.json["invariants"]["warnings"]] == ["timer-overdue"]
    human = cli("doctor", "--check", db=demo_db)
    assert human.code == 0 and "warning:" in human.stdout and "healthy" in human.stdout

    accepted = cli("store", "accept", order_id, "--store", "green-bowl", "--json", db=demo_db)  # its process catches up first
    assert accepted.code == 4, accepted.stdout + accepted.stderr  # the deadline won: a clean refusal
    assert "not accepted in time" in accepted.json["error"]["message"]
    shown = cli("status", order_id, "--json", db=demo_db)
    assert (shown.json["status"], shown.json["reason"]) == ("CANCELLED", "rejected by the store: not accepted in time")
    assert shown.json["deadlines"] == []
    after = cli("doctor", "--check", "--json", db=demo_db)
    assert after.code == 0 and after.json["warnings"] == [] and after.json["invariants"]["ok"]


def test_deadline_settings_are_validated(cli, demo_db):
    bad = cli("status", "ord-000001", "--json", db=demo_db, env={"DELIVERYCLI_ACCEPT_TIMEOUT_S": "-5"})
    assert bad.code == 2 and "accept_timeout_s" in bad.stdout + bad.stderr
    off = cli("config", "show", "--json", db=demo_db, env={"DELIVERYCLI_CONFIRM_TIMEOUT_S": "0"})
    assert off.code == 0
    values = {row["id"]: row["value"] for row in off.json["settings"]}
    assert (values["confirm_timeout_s"], values["accept_timeout_s"], values["pickup_alert_s"]) == (0, 600, 900)
