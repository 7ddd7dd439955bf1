"""The relay of the event log to NATS JetStream, against the real NATS server (127.0.0.1:4222, or
DELIVERYCLI_TEST_NATS_URL): every event in log order on `<prefix>.<context>.<EventType>`, header
Nats-Msg-Id = its sequence number, body = the `events tail --json` line; the position moves only
after the ack, a restart resumes, `kill -9` mid-run leaves no gap and no duplicate, SIGTERM and
SIGINT stop it cleanly, and bad options or an absent server are clear errors that change nothing.
Each test has a stream (and a subject prefix) of its own, deleted afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import sqlalchemy as sa

from deliverycli.engine import eventlog, storage
from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings

from .support import NATS_URL, add_stream, free_port, needs_nats, publish, stream_count, stream_messages

pytestmark = needs_nats


def relay_once(cli: Any, db: str, stream: str, *extra: str) -> dict[str, Any]:
    result = cli("--json", "relay", "--nats", NATS_URL, "--stream", stream, "--subject-prefix", stream.lower(), "--once", *extra, db=db)
    assert result.code == 0, (result.stdout, result.stderr)
    return result.json


def tail(cli: Any, db: str) -> list[bytes]:
    result = cli("--json", "events", "tail", "--limit", "100000", db=db)
    assert result.code == 0, result.stderr
    return [line.encode() for line in result.stdout.splitlines()]


def assert_stream_is_the_log(db: str, stream: str, cli: Any) -> None:
    """The stream holds exactly the log: every event once, in order, as `events tail --json` prints it."""
    messages = stream_messages(stream)
    lines = tail(cli, db)
    events = [json.loads(line) for line in lines]
    assert [m[1] for m in messages] == [str(e["id"]) for e in events], "every event once, in log order"
    assert [m[0] for m in messages] == [f"{stream.lower()}.{e['context']}.{e['event_type']}" for e in events]
    assert [m[2] for m in messages] == lines


def position(db: str, stream: str) -> int | None:
    eng = storage.make_engine(storage.database_url(db))
    try:
        with eng.connect() as conn:
            return eventlog.positions(conn).get(f"relay:nats:{stream}")
    finally:
        eng.dispose()


def head(db: str) -> int:
    with Engine.open(load_settings(db=db), catch_up=False) as engine:
        return engine.events.head()


def some_orders(db: str, count: int = 3) -> None:
    with Engine.open(load_settings(db=db)) as engine:
        for i in range(count):
            order = engine.orders.place("alice", "pizza-palace", ["margherita"], f"{i} Relay St").id
            engine.store.accept(order, "pizza-palace")


def test_every_event_goes_out_once_in_order_and_a_rerun_sends_only_new_ones(demo_db: str, stream: str, cli: Any) -> None:
    some_orders(demo_db)
    first = relay_once(cli, demo_db, stream)
    top = head(demo_db)
    assert (first["stream_created"], first["start_position"], first["position"], first["relayed"]) == (True, 0, top, top)
    assert position(demo_db, stream) == top  # the tracking row, moved after the acks
    assert_stream_is_the_log(demo_db, stream, cli)

    again = relay_once(cli, demo_db, stream)
    assert (again["stream_created"], again["relayed"], again["position"]) == (False, 0, top)

    some_orders(demo_db, 2)
    more = relay_once(cli, demo_db, stream, "--batch", "3")  # several batches
    assert (more["start_position"], more["relayed"], more["position"]) == (top, head(demo_db) - top, head(demo_db))
    assert_stream_is_the_log(demo_db, stream, cli)


def test_events_acked_but_not_recorded_are_not_sent_again(sqlite_db: str, stream: str, cli: Any) -> None:
    """A relay killed between NATS's ack and moving its position: the next run reads the stream's
    last event and skips what the stream has, whether or not JetStream's duplicate window still
    covers it (it publishes nothing, so nothing depends on that window)."""
    Engine.initialise(load_settings(db=sqlite_db), demo=True)[0].close()
    some_orders(sqlite_db)
    relay_once(cli, sqlite_db, stream)
    top = head(sqlite_db)
    eng = storage.make_engine(storage.database_url(sqlite_db))
    with eng.begin() as conn:  # the position as it was before the last batch's acks were recorded
        eventlog.advance(conn, f"relay:nats:{stream}", top, 2, storage.utcnow())
    eng.dispose()
    rerun = relay_once(cli, sqlite_db, stream)
    assert (rerun["start_position"], rerun["relayed"], rerun["position"]) == (top, 0, top)
    assert_stream_is_the_log(sqlite_db, stream, cli)


def test_a_message_another_service_put_in_the_stream_does_not_break_the_order(sqlite_db: str, stream: str, cli: Any) -> None:
    Engine.initialise(load_settings(db=sqlite_db), demo=True)[0].close()
    some_orders(sqlite_db, 1)
    relay_once(cli, sqlite_db, stream)
    relayed = stream_count(stream)
    foreign_seq = publish(f"{stream.lower()}.other.Hello", b"not ours")
    assert foreign_seq == relayed + 1
    some_orders(sqlite_db, 1)
    result = relay_once(cli, sqlite_db, stream)
    assert result["position"] == head(sqlite_db)
    messages = stream_messages(stream)
    assert messages[relayed] == (f"{stream.lower()}.other.Hello", None, b"not ours")
    ours = [m for m in messages if m[1] is not None]
    assert [int(m[1]) for m in ours] == list(range(1, head(sqlite_db) + 1))


def _start_relay(db: str, stream: str, *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "deliverycli", "--db", db, "--json", "relay", "--nats", NATS_URL, "--stream", stream, "--subject-prefix", stream.lower(), *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ | {"NO_COLOR": "1"})


def wait_until(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_running_relay_follows_new_events_and_stops_cleanly(sqlite_db: str, stream: str, cli: Any, sig: int) -> None:
    Engine.initialise(load_settings(db=sqlite_db), demo=True)[0].close()
    some_orders(sqlite_db, 1)
    proc = _start_relay(sqlite_db, stream)
    try:
        wait_until(lambda: stream_count(stream) == head(sqlite_db), "the backlog in the stream")
        some_orders(sqlite_db, 2)  # committed by another process while the relay runs
        wait_until(lambda: stream_count(stream) == head(sqlite_db), "the new events in the stream")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    summary = json.loads(out)
    assert summary["position"] == head(sqlite_db) == position(sqlite_db, stream)
    assert_stream_is_the_log(sqlite_db, stream, cli)


def test_kill_9_mid_run_leaves_no_gap_and_no_duplicate(db_url: str, stream: str, cli: Any) -> None:
    """Orders keep coming (a `simulate` beside it) while the relay is killed with SIGKILL again and
    again as soon as the stream has grown since the last kill; then the stream is exactly the log."""
    Engine.initialise(load_settings(db=db_url), demo=True)[0].close()
    writer = subprocess.Popen([sys.executable, "-m", "deliverycli", "--db", db_url, "simulate", "--orders", "150", "--seed", "7"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    kills = 0
    try:
        seen = 0
        while kills < 6:
            proc = _start_relay(db_url, stream, "--batch", "20")
            try:
                wait_until(lambda: stream_count(stream) > seen, "the stream to grow")
            finally:
                proc.kill()
                proc.communicate(timeout=60)
            kills += 1
            seen = stream_count(stream)
            messages = stream_messages(stream)  # after each kill: a prefix of the log, nothing twice, nothing skipped
            assert [int(m[1]) for m in messages] == list(range(1, len(messages) + 1))
            if writer.poll() is None:
                continue
            some_orders(db_url, 1)  # the writer is done: keep the log growing for the next kills
        assert writer.wait(timeout=300) == 0, writer.stderr.read() if writer.stderr else ""
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    final = relay_once(cli, db_url, stream)
    assert final["position"] == head(db_url) == position(db_url, stream)
    assert_stream_is_the_log(db_url, stream, cli)


def test_bad_options_and_an_absent_server_are_clear_errors_that_change_nothing(sqlite_db: str, stream: str, cli: Any) -> None:
    Engine.initialise(load_settings(db=sqlite_db), demo=True)[0].close()
    for args, fragment in [
        (["--nats", "http://127.0.0.1:4222"], "--nats must be a NATS URL"),
        (["--nats", NATS_URL, "--stream", "a.b"], "--stream must be"),
        (["--nats", NATS_URL, "--subject-prefix", "x.>"], "--subject-prefix must be"),
    ]:
        result = cli("--json", "relay", *args, "--once", db=sqlite_db)
        assert result.code == 2 and fragment in result.json["error"]["message"], result.stdout
    absent = cli("--json", "relay", "--nats", f"nats://127.0.0.1:{free_port()}", "--stream", stream, "--once", db=sqlite_db)
    assert absent.code == 7 and absent.json["error"]["code"] == "broker_unavailable", absent.stdout
    assert "cannot connect to NATS" in absent.json["error"]["message"]

    add_stream(stream, [f"{stream.lower()}-elsewhere.>"])  # the name is taken by a stream for other subjects
    taken = cli("--json", "relay", "--nats", NATS_URL, "--stream", stream, "--subject-prefix", stream.lower(), "--once", db=sqlite_db)
    assert taken.code == 4 and "exists but takes" in taken.json["error"]["message"], taken.stdout
    assert stream_count(stream) == 0
    eng = storage.make_engine(storage.database_url(sqlite_db))
    with eng.connect() as conn:  # no tracking row was created by any of these
        assert not [name for name in eventlog.positions(conn) if name.startswith("relay:")]
        assert conn.execute(sa.select(sa.func.count()).select_from(eventlog.events)).scalar_one() == 0
    eng.dispose()
