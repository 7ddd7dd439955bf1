"""`deliverycli webhooks ...` in real subprocesses: add (a secret generated and shown once, or given),
list, remove, deliveries, with --json; bad input is exit 2 (3 for an unknown webhook) and changes
nothing; `webhooks deliver` sends every event signed, in order, as `events tail --json` prints it;
and `kill -9` of the sender mid-delivery loses nothing (at least once: a second sender, once the
killed one's lease has run out, sends the rest; the receiver dedupes by webhook-id)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

from conftest import open_demo_engine
from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings

from deliverycli.integrations.webhooks import FLUSH_EVENTS

from .webhook_receiver import Receiver

# Retry waits near zero; a short lease, so a killed sender is replaced within seconds.
FAST_ENV = {
    "DELIVERYCLI_WEBHOOK_RETRY_WAIT_INITIAL_S": "0.001", "DELIVERYCLI_WEBHOOK_RETRY_WAIT_MAX_S": "0.005",
    "DELIVERYCLI_WEBHOOK_RETRY_WAIT_JITTER_S": "0", "DELIVERYCLI_WEBHOOK_TIMEOUT_S": "1", "DELIVERYCLI_WEBHOOK_LEASE_S": "3",
    "DELIVERYCLI_WEBHOOK_POLL_S": "0.05",
}


def orders(db: str, count: int) -> None:
    with Engine.open(load_settings(db=db)) as engine:
        for i in range(count):
            order = engine.orders.place("alice", "pizza-palace", ["margherita"], f"{i} Hook Rd").id
            engine.store.accept(order, "pizza-palace")
            engine.store.ready(order, "pizza-palace")


def webhook_rows(cli: Any, db: str) -> list[dict[str, Any]]:
    result = cli("--json", "webhooks", "list", db=db)
    assert result.code == 0, result.stderr
    return result.json


def tail_lines(cli: Any, db: str) -> list[bytes]:
    result = cli("--json", "events", "tail", "--limit", "100000", db=db)
    assert result.code == 0, result.stderr
    return [line.encode() for line in result.stdout.splitlines()]


def test_add_list_deliver_deliveries_and_remove(demo_db: str, cli: Any) -> None:
    given = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, base64
    with Receiver() as receiver, Receiver(lambda msg_id, seen: 500 if seen == 1 else 200, secret=given) as other:
        human = cli("webhooks", "add", receiver.url, db=demo_db)
        assert human.code == 0, human.stderr
        secret = human.stdout.strip()  # alone on stdout, for SECRET=$(...)
        assert secret.startswith("whsec_") and "shown only this once" in human.stderr
        receiver.secret = secret
        filtered = cli("--json", "webhooks", "add", other.url, "--event", "OrderPlaced", "--secret", given, db=demo_db)
        assert filtered.code == 0 and filtered.json["secret"] == given and filtered.json["event_types"] == ["OrderPlaced"]
        listed = webhook_rows(cli, demo_db)
        assert [r["url"] for r in listed] == [receiver.url, other.url]
        assert all("secret" not in r for r in listed) and secret not in cli("webhooks", "list", db=demo_db).stdout

        orders(demo_db, 2)
        sent = cli("--json", "webhooks", "deliver", "--once", db=demo_db, env=FAST_ENV)
        assert sent.code == 0, sent.stderr
        lines = tail_lines(cli, demo_db)
        assert all(r.valid for r in receiver.requests + other.requests)
        assert [r.body for r in receiver.accepted()] == lines, "every event, in order, as `events tail --json` prints it"
        assert [r.event["event_type"] for r in other.accepted()] == ["OrderPlaced", "OrderPlaced"], "the filtered one only those"
        assert sent.json == {"id": "webhooks", "delivered": len(lines) + 2, "parked": 0, "attempts": len(lines) + 4, "failed_attempts": 2}

        first_id, other_id = listed[0]["id"], listed[1]["id"]
        attempts = cli("--json", "webhooks", "deliveries", "--webhook", first_id, "--limit", "1000", db=demo_db)
        assert attempts.code == 0 and [a["event_id"] for a in attempts.json] == [json.loads(line)["id"] for line in lines]
        assert all(a["ok"] and a["status_code"] == 200 and a["duration_ms"] >= 0 for a in attempts.json)
        failed = cli("--json", "webhooks", "deliveries", "--failed", db=demo_db)
        assert failed.code == 0 and [(a["webhook_id"], a["status_code"], a["attempt"]) for a in failed.json] == [(other_id, 500, 1)] * 2
        assert cli("webhooks", "deliveries", db=demo_db).code == 0

        removed = cli("--json", "webhooks", "remove", first_id, db=demo_db)
        assert removed.code == 0 and removed.json["id"] == first_id and removed.json["removed"] is True
        assert [r["id"] for r in webhook_rows(cli, demo_db)] == [other_id]


def test_bad_input_is_exit_2_or_3_and_changes_nothing(sqlite_db: str, cli: Any) -> None:
    """Validation is the engine's, before any write: one backend shows it (the others store the same nothing)."""
    open_demo_engine(sqlite_db).close()
    demo_db = sqlite_db
    for args, fragment in [
        (("ftp://example.test/hook",), "http:// or https://"),
        (("not a url",), "http:// or https://"),
        (("http://[::1/hook",), "http:// or https://"),
        (("http://example.test:99999/",), "http:// or https://"),
        (("https://user:pw@example.test/",), "http:// or https://"),
        (("https://example.test/hook", "--event", "OrderPlacd"), "unknown event type"),
        (("https://example.test/hook", "--secret", "hunter2"), "whsec_"),
        (("https://example.test/hook", "--secret", "whsec_c2hvcnQ="), "24 to 64 bytes"),
    ]:
        result = cli("--json", "webhooks", "add", *args, db=demo_db)
        assert result.code == 2, (args, result.stdout, result.stderr)
        assert fragment in result.json["error"]["message"], (args, result.json)
    assert webhook_rows(cli, demo_db) == []
    for args in (("remove", "wh_nope"), ("deliveries", "--webhook", "wh_nope")):
        result = cli("--json", "webhooks", *args, db=demo_db)
        assert result.code == 3 and "wh_nope" in result.json["error"]["message"], (args, result.stdout)


def test_kill_9_of_the_sender_mid_delivery_loses_nothing(demo_db: str, cli: Any, tmp_path: Any) -> None:
    slow_down = __import__("threading").Event()

    def behaviour(msg_id: str, seen: int) -> int:
        slow_down.wait(0.03)  # a receiver taking its time: the kill lands mid-delivery
        return 200

    with Receiver(behaviour) as receiver:
        added = cli("--json", "webhooks", "add", receiver.url, db=demo_db)
        receiver.secret = added.json["secret"]
        orders(demo_db, 6)
        expected = [json.loads(line)["id"] for line in tail_lines(cli, demo_db)]
        argv = [sys.executable, "-m", "deliverycli", "--db", demo_db, "--json", "webhooks", "deliver"]
        env = os.environ | {"NO_COLOR": "1"} | FAST_ENV
        first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            receiver.wait_for(lambda r: len(r.accepted_ids()) >= 5)
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=60) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate(timeout=60)
        assert len(receiver.accepted_ids()) < len(expected), "killed mid-delivery"
        second = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            receiver.wait_for(lambda r: set(r.accepted_ids()) >= set(expected))  # once the killed one's lease runs out
            second.send_signal(signal.SIGTERM)
            out, err = second.communicate(timeout=60)
        finally:
            if second.poll() is None:
                second.kill()
        assert second.returncode == 0 and "Traceback" not in err, err
        assert json.loads(out)["parked"] == 0
        assert receiver.accepted_ids() == expected, "deduplicated by webhook-id: every event, in log order"
        assert len(receiver.accepted()) - len(expected) <= FLUSH_EVENTS, "only events sent since the last recorded position came twice"
        assert all(r.valid for r in receiver.requests)
        assert webhook_rows(cli, demo_db)[0]["lag"] == 0


def test_a_parked_webhook_event_shows_in_deadletters_and_doctor_and_a_retry_resends_it(sqlite_db: str, cli: Any) -> None:
    """The CLI's side of dead letters (the engine's side runs on both backends in test_webhooks.py)."""
    open_demo_engine(sqlite_db).close()
    answer = {"status": 503}
    with Receiver(lambda msg_id, seen: answer["status"]) as receiver:
        added = cli("--json", "webhooks", "add", receiver.url, "--event", "OrderPlaced", db=sqlite_db)
        receiver.secret = added.json["secret"]
        orders(sqlite_db, 1)
        sent = cli("--json", "webhooks", "deliver", "--once", db=sqlite_db, env=FAST_ENV | {"DELIVERYCLI_WEBHOOK_RETRY_ATTEMPTS": "2"})
        assert sent.code == 0 and (sent.json["parked"], sent.json["failed_attempts"]) == (1, 2), sent.stdout
        [letter] = cli("--json", "deadletters", "list", db=sqlite_db).json
        assert letter["subscriber"] == f"webhook:{added.json['id']}" and letter["event_type"] == "OrderPlaced"
        assert letter["error"].startswith("HTTP 503") and letter["attempts"] == 2
        doctor = cli("--json", "doctor", db=sqlite_db)
        assert doctor.code == 1 and doctor.json["dead_letters"] == 1, doctor.stdout
        again = cli("--json", "deadletters", "retry", str(letter["id"]), db=sqlite_db)
        assert again.code == 4 and "failed again: HTTP 503" in again.json["error"]["message"]
        answer["status"] = 200
        retried = cli("--json", "deadletters", "retry", str(letter["id"]), db=sqlite_db)
        assert retried.code == 0 and retried.json["resolved_at"], retried.stdout
        assert [r.event["event_type"] for r in receiver.accepted()] == ["OrderPlaced"] and all(r.valid for r in receiver.requests)
        assert cli("--json", "deadletters", "list", db=sqlite_db).json == []
        tries = cli("--json", "webhooks", "deliveries", db=sqlite_db).json
        assert [(t["attempt"], t["status_code"]) for t in tries] == [(1, 503), (2, 503), (3, 503), (4, 200)]


def test_the_worker_sends_webhooks_their_events(demo_db: str, cli: Any) -> None:
    """`worker --once` drains, then sends what is pending (the continuous worker runs the same
    dispatcher in a thread beside the drain); `--no-webhooks` leaves them to another sender."""
    with Receiver() as receiver:
        added = cli("--json", "webhooks", "add", receiver.url, db=demo_db)
        assert added.code == 0, added.stderr
        receiver.secret = added.json["secret"]
        orders(demo_db, 1)
        skipped = cli("--json", "worker", "--once", "--no-webhooks", db=demo_db, env=FAST_ENV)
        assert skipped.code == 0, skipped.stderr
        assert receiver.requests == []
        worked = cli("--json", "worker", "--once", db=demo_db, env=FAST_ENV)
        assert worked.code == 0, worked.stderr
        assert worked.json["jobs_done"] > 0
        assert all(r.valid for r in receiver.requests)
        assert [r.body for r in receiver.accepted()] == tail_lines(cli, demo_db)
