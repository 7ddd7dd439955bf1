"""§4 Faults, through the CLI on SQLite and PostgreSQL: a failing or slow payment gateway (the
breaker opens, fails fast with exit 6, half-opens after the cool-down; no order reaches the store
without an approved charge, no charge exists without its order); a subscriber that raises on one
event (retried with backoff, parked as a dead letter while the others flow, listed and redriven);
and a database locked by another writer for longer than the busy timeout (a clear error, nothing
half-written)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any


from deliverycli.engine import storage

from .procs import fork_cli, warm_up
from .support import assert_invariants, demo, diff, dump, open_engine


def place(db: str, customer: str = "alice", env: dict[str, str] | None = None, item: str = "cola") -> Any:
    return fork_cli("orders", "place", "--customer", customer, "--store", "pizza-palace", "--item", item, "--address", "1 Fault St", "--json", db=db, env=env)


# -- the payment gateway failing or slow ---------------------------------------------------------


def wait_until_cooled_down(db: str, env: dict[str, str]) -> None:
    """Wait (on the condition, as long as a loaded machine needs) until a process with ``env``'s
    cool-down finds the open breaker ready for its trial call."""
    half_open_at = datetime.fromisoformat(fork_cli("doctor", "--json", db=db, env=env).json["breaker"]["half_open_at"])
    while datetime.now(UTC) < half_open_at:
        time.sleep(0.05)


def test_breaker_opens_fails_fast_half_opens_and_no_money_goes_astray(db_url: str) -> None:
    """The breaker's state is shared through the database; its cool-down is each process's setting.
    So the calls that must find it open use a long cool-down and those that must find it half-open a
    short one, and no step depends on how fast a loaded machine runs the previous ones."""
    warm_up()
    demo(db_url).close()
    breaker = {"DELIVERYCLI_BREAKER_FAIL_MAX": "3", "DELIVERYCLI_BREAKER_RESET_TIMEOUT_S": "60"}
    cooled = breaker | {"DELIVERYCLI_BREAKER_RESET_TIMEOUT_S": "0.5"}  # a process for which the cool-down is over
    slow = breaker | {"DELIVERYCLI_PAYMENT_LATENCY_MS": "5000", "DELIVERYCLI_PAYMENT_TIMEOUT_S": "1.5"}
    down = {"DELIVERYCLI_PAYMENT_FAILURE_RATE": "1.0"}

    ok = place(db_url, "erin", env=breaker)
    assert ok.code == 0 and ok.json["status"] == "PAID"
    # slow twice (timeouts), then down once: three consecutive failures, each an order REJECTED
    failures = [place(db_url, "alice", env=slow), place(db_url, "bob", env=slow), place(db_url, "carol", env=breaker | down)]
    for result in failures:
        assert result.code == 6, result.stdout
        assert result.error()["code"] == "payment_failed" and "payment service unavailable" in result.error()["message"]
    assert "no answer within 1.5s" in failures[0].error()["message"]
    assert "circuit breaker is open" in failures[2].error()["message"]  # the third failure tripped it
    doctor = fork_cli("doctor", "--json", db=db_url, env=breaker)
    assert doctor.code == 1 and doctor.json["breaker"]["state"] == "open"
    assert "payment circuit breaker is open" in doctor.json["problems"]

    # open: fail fast, before any order is written and without calling the gateway: a call to this
    # failing gateway would void the order's key there, so the provider's records show any call
    before = dump(db_url)
    fast = [place(db_url, "dave", env=breaker | down), place(db_url, "dave", env=breaker)]
    for result in fast:
        assert result.code == 6, result.stdout
        message = result.error()["message"]
        assert "circuit breaker opened after 3 consecutive failures" in message and "No order was placed" in message
        assert "will try again in" in message
    assert diff(before, dump(db_url)) == []

    # after the cool-down it half-opens: a failing trial opens it again at once ...
    wait_until_cooled_down(db_url, cooled)
    trial = place(db_url, "dave", env=cooled | down)
    assert trial.code == 6 and "was rejected: payment service unavailable" in trial.error()["message"]  # a trial was made
    again = place(db_url, "dave", env=breaker)
    assert again.code == 6 and "No order was placed" in again.error()["message"]
    # ... and a successful trial closes it
    wait_until_cooled_down(db_url, cooled)
    healed = place(db_url, "dave", env=cooled)
    assert healed.code == 0 and healed.json["status"] == "PAID", healed.stdout
    assert fork_cli("doctor", "--check", "--json", db=db_url, env=breaker).json["breaker"]["state"] == "closed"

    with open_engine(db_url) as engine:
        statuses = {o.id: o.status for o in engine.orders.list()}
        assert sorted(statuses.values()) == ["PAID", "PAID", "REJECTED", "REJECTED", "REJECTED", "REJECTED"]
        assert sorted(t.id for t in engine.store.queue("pizza-palace")) == sorted(o for o, s in statuses.items() if s == "PAID")
        for oid, status in statuses.items():
            payment = engine.payments.get(oid)
            assert payment.status == ("APPROVED" if status == "PAID" else "DECLINED")
        assert_invariants(engine)  # includes: every provider charge has its order, every approved order its charge


# -- a subscriber that raises on one event ---------------------------------------------------------


def _break_notifications_for(db: str, order_id: str) -> None:
    """Make the notification channel refuse one order's COOKING notification: a database trigger,
    so the real subscriber meets a real error in its own transaction."""
    url = storage.database_url(db)
    eng = storage.make_engine(url)
    with eng.begin() as conn:
        if url.get_backend_name() == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER fail_note BEFORE INSERT ON notifications WHEN NEW.order_id = '{order_id}' AND NEW.status = 'COOKING' "
                "BEGIN SELECT RAISE(ABORT, 'notification channel refused the message'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION fail_note() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.order_id = '{order_id}' AND NEW.status = 'COOKING' THEN RAISE EXCEPTION 'notification channel refused the message'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql("CREATE TRIGGER fail_note BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION fail_note()")
    eng.dispose()


def _repair_notifications(db: str) -> None:
    url = storage.database_url(db)
    eng = storage.make_engine(url)
    with eng.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER fail_note" + ("" if url.get_backend_name() == "sqlite" else " ON notifications"))
        if url.get_backend_name() != "sqlite":
            conn.exec_driver_sql("DROP FUNCTION fail_note()")
    eng.dispose()


def test_a_subscriber_failing_on_one_event_is_retried_parked_and_redriven(db_url: str) -> None:
    warm_up()
    retry = {"DELIVERYCLI_RETRY_MAX_ATTEMPTS": "3", "DELIVERYCLI_RETRY_BACKOFF_S": "0.25"}
    with demo(db_url) as engine:
        target = engine.orders.place("alice", "pizza-palace", ["margherita"], "1 Fault St").id
        other = engine.orders.place("bob", "pizza-palace", ["cola"], "2 Fault St").id
    _break_notifications_for(db_url, target)

    accepted = fork_cli("store", "accept", target, "--store", "pizza-palace", "--json", db=db_url, env=retry)
    assert accepted.code == 0, accepted.stdout  # the store's command succeeded; one subscriber could not follow
    # (the back-off between attempts is measured on an injected clock in tests/engine/test_reliability.py)
    listed = fork_cli("deadletters", "list", "--json", db=db_url)
    (letter,) = listed.json
    assert (letter["subscriber"], letter["event_type"], letter["order_id"], letter["attempts"]) == ("notification", "CookingStarted", target, 3)
    assert "notification channel refused the message" in letter["error"]
    human = fork_cli("deadletters", "list", db=db_url)
    assert f"dead letter {letter['id']} (waiting)" in human.stdout and "CookingStarted" in human.stdout

    # the others keep flowing: the order is COOKING everywhere else, later events are notified
    assert fork_cli("store", "accept", other, "--store", "pizza-palace", "--json", db=db_url, env=retry).code == 0
    assert fork_cli("store", "ready", target, "--store", "pizza-palace", "--json", db=db_url, env=retry).code == 0
    with open_engine(db_url) as engine:
        assert engine.orders.status(target).status == "READY_FOR_PICKUP" and engine.orders.get(target).status == "READY_FOR_PICKUP"
        assert [d.id for d in engine.deliveries.list(available=True)] == [target]
        assert [n.status for n in engine.notifications.list("customer", "alice")] == ["PENDING_PAYMENT", "PAID", "READY_FOR_PICKUP"]
        assert [n.status for n in engine.notifications.list("customer", "bob")] == ["PENDING_PAYMENT", "PAID", "COOKING"]
        ops = engine.ops.overview()  # what the console's operations view shows
        assert [d.id for d in ops.dead_letters] == [letter["id"]]
        assert_invariants(engine)  # a parked event is not a lost one
    doctor = fork_cli("doctor", "--json", db=db_url)
    assert doctor.code == 1 and any(f"deadletters retry {letter['id']}" in p for p in doctor.json["problems"])

    # redriving while still broken fails again, visibly; once repaired it applies exactly once
    still = fork_cli("deadletters", "retry", str(letter["id"]), "--json", db=db_url)
    assert still.code == 4 and "failed again" in still.error()["message"]
    _repair_notifications(db_url)
    redriven = fork_cli("deadletters", "retry", str(letter["id"]), "--json", db=db_url)
    assert redriven.code == 0 and redriven.json["resolved_at"], redriven.stdout
    with open_engine(db_url) as engine:
        assert [n.status for n in engine.notifications.list("customer", "alice")] == ["PENDING_PAYMENT", "PAID", "READY_FOR_PICKUP", "COOKING"]
        assert engine.ops.dead_letters() == []
        assert_invariants(engine)
    assert fork_cli("doctor", "--check", db=db_url).code == 0


# -- the database locked by another writer ---------------------------------------------------------


def _hold_write_lock(db: str, release: threading.Event, ready: threading.Event, rows: tuple[str, ...] = ()) -> None:
    """Another writer: a transaction that holds the database's write lock (SQLite) or these rows'
    locks (PostgreSQL: ``rows`` are statements selecting FOR UPDATE) until ``release`` is set."""
    url = storage.database_url(db)
    eng = storage.make_engine(url, busy_timeout_s=30)
    try:
        with eng.begin() as conn:  # BEGIN IMMEDIATE on SQLite: the database's write lock
            if url.get_backend_name() != "sqlite":
                for statement in rows:
                    conn.exec_driver_sql(statement)
            ready.set()
            release.wait(60)
    finally:
        eng.dispose()


class _Holding:
    """``with _Holding(db, rows):`` another writer holds the locks for the duration of the block."""

    def __init__(self, db: str, rows: tuple[str, ...] = ()) -> None:
        self.release, ready = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=_hold_write_lock, args=(db, self.release, ready, rows))
        self.thread.start()
        assert ready.wait(10)

    def __enter__(self) -> _Holding:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.thread.join()


IMPATIENT = {"DELIVERYCLI_BUSY_TIMEOUT_S": "0.5"}


def test_a_database_locked_longer_than_the_busy_timeout_gives_a_clear_error_and_half_writes_nothing(db_url: str) -> None:
    warm_up()
    with demo(db_url) as engine:
        paid = engine.orders.place("alice", "pizza-palace", ["cola"], "1 Lock St").id
    before = dump(db_url)
    # what these commands must write: the order counter (placing) and the order (cancelling)
    with _Holding(db_url, ("SELECT last FROM order_numbers FOR UPDATE", f"SELECT id FROM orders WHERE id = '{paid}' FOR UPDATE")):
        results = [
            place(db_url, "bob", env=IMPATIENT),
            fork_cli("orders", "cancel", paid, "--customer", "alice", "--json", db=db_url, env=IMPATIENT),
        ]
        reading = fork_cli("status", paid, "--json", db=db_url, env=IMPATIENT)
    for result in results:
        assert result.code == 7, result.stdout
        error = result.error()
        assert error["code"] == "database_unavailable"
        assert "busy" in error["message"] and "busy timeout" in error["message"]
    assert reading.code == 0 and reading.json["status"] == "PAID"  # readers are not blocked by a writer
    assert diff(before, dump(db_url)) == []
    # once the lock is gone the same commands go through, exactly once
    assert place(db_url, "bob").code == 0
    assert fork_cli("orders", "cancel", paid, "--customer", "alice", "--json", db=db_url).code == 0
    with open_engine(db_url) as engine:
        assert engine.orders.status(paid).status == "CANCELLED"
        assert_invariants(engine)


def test_a_command_whose_sagas_are_locked_out_reports_its_own_outcome(db_url: str) -> None:
    """The command commits, but another writer holds the subscribers' positions longer than the
    busy timeout: the caller hears the command's own (true) outcome, and the sagas are settled by
    the next drain. (On SQLite a writer locks the whole database, so the command itself waits.)"""
    if "://" not in db_url:
        return
    warm_up()
    with demo(db_url) as engine:
        paid = engine.orders.place("alice", "pizza-palace", ["cola"], "1 Lock St").id
    with _Holding(db_url, ("SELECT position FROM tracking FOR UPDATE",)):
        cancel = fork_cli("orders", "cancel", paid, "--customer", "alice", "--json", db=db_url, env=IMPATIENT)
    assert cancel.code == 0 and cancel.json["status"] == "CANCEL_PENDING", cancel.stdout
    with open_engine(db_url) as engine:  # the next start settles it
        assert engine.orders.status(paid).status == "CANCELLED" and engine.payments.get(paid).status == "REFUNDED"
        assert_invariants(engine)
