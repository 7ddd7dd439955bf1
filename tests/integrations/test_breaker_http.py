"""The seed's circuit-breaker demo, for real: the engine calls the payment provider over HTTP (a
`payment-provider serve` process); the provider stops, payments fail and the breaker opens, then
fails fast without touching the network; the provider comes back, and after the cool-down one
trial call closes the breaker. `doctor --json` shows each state: closed, open, closed.

The breaker's state is shared through the database, its cool-down is each process's own setting:
the processes that must find it open use a long cool-down, the ones after it a short one, so no
step depends on how fast a loaded machine runs the previous one.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings

from .support import Provider

FAIL_MAX = 3


class ConnectionCounter:
    """A listener on the provider's port that counts the connections made to it (and answers none)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.connections = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)


def wait_until(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_the_breaker_opens_when_the_provider_stops_and_closes_after_it_returns(tmp_path: Path, cli: Any) -> None:
    db = str(tmp_path / "shop.db")
    assert cli("init", "--demo", db=db).code == 0
    ledger = tmp_path / "provider.db"
    provider = Provider(ledger, 0)
    try:
        http = provider.env | {"DELIVERYCLI_BREAKER_FAIL_MAX": str(FAIL_MAX), "DELIVERYCLI_PAYMENT_TIMEOUT_S": "5"}
        patient = http | {"DELIVERYCLI_BREAKER_RESET_TIMEOUT_S": "600"}  # for it the breaker, once open, stays open
        cooled = http | {"DELIVERYCLI_BREAKER_RESET_TIMEOUT_S": "1"}

        def place(customer: str, env: dict[str, str]) -> Any:
            return cli("--json", "orders", "place", "--customer", customer, "--store", "pizza-palace", "--item", "cola", "--address", "1 Breaker St", db=db, env=env)

        def doctor(env: dict[str, str]) -> dict[str, Any]:
            return cli("--json", "doctor", db=db, env=env).json

        # closed: the provider approves
        first = place("alice", cooled)
        assert first.code == 0 and first.json["status"] == "PAID", first.stdout
        assert doctor(cooled)["breaker"]["state"] == "closed"

        # the provider stops: each payment fails, the last one trips the breaker
        assert provider.stop() == 0
        failures = [place(c, patient) for c in ("bob", "carol", "dave")]
        for result in failures:
            assert result.code == 6 and result.json["error"]["code"] == "payment_failed", result.stdout
        assert all("cannot reach the payment provider" in r.json["error"]["message"] for r in failures[:-1])
        assert "circuit breaker is open" in failures[-1].json["error"]["message"]
        report = doctor(patient)
        assert report["breaker"]["state"] == "open" and report["breaker"]["fail_counter"] == FAIL_MAX
        assert "payment circuit breaker is open" in report["problems"]

        # open: fail fast, before any order is written, and no connection reaches the provider's port
        counter = ConnectionCounter(provider.port)
        try:
            fast = place("erin", patient)
        finally:
            counter.close()
        assert fast.code == 6, fast.stdout
        assert "circuit breaker opened after 3 consecutive failures" in fast.json["error"]["message"]
        assert "No order was placed" in fast.json["error"]["message"]
        assert counter.connections == 0
        assert doctor(patient)["breaker"]["state"] == "open"

        # the provider comes back on the same port; once the cool-down is over, one trial call closes it
        provider = Provider(ledger, provider.port, api_key=provider.api_key)
        half_open_at = datetime.fromisoformat(doctor(cooled)["breaker"]["half_open_at"])
        wait_until(lambda: datetime.now(UTC) >= half_open_at, "the end of the cool-down")
        trial = place("erin", cooled)
        assert trial.code == 0 and trial.json["status"] == "PAID", trial.stdout
        healed = doctor(cooled)
        assert healed["breaker"]["state"] == "closed" and healed["breaker"]["fail_counter"] == 0
        with Engine.open(load_settings(db=db, **{k.removeprefix("DELIVERYCLI_").lower(): v for k, v in cooled.items()}), catch_up=False) as engine:
            assert engine.ops.overview().breaker.state == "closed"  # what the operations view shows
            statuses = {o.customer_id: o.status for o in engine.orders.list()}
        assert statuses == {"alice": "PAID", "bob": "REJECTED", "carol": "REJECTED", "dave": "REJECTED", "erin": "PAID"}

        # the cancel saga's refund goes through the provider too, once
        cancelled = cli("--json", "orders", "cancel", first.json["id"], "--customer", "alice", db=db, env=cooled)
        assert cancelled.code == 0 and cancelled.json["status"] == "CANCELLED", cancelled.stdout
        assert cli("--json", "payments", "show", first.json["id"], db=db).json["status"] == "REFUNDED"
        assert provider.stop() == 0
        ledger_rows = {r.idempotency_key: r for r in provider.ledger_rows()}
        assert set(ledger_rows) == {first.json["id"], trial.json["id"]}  # no charge for any refused order
        assert ledger_rows[first.json["id"]].refund_id == f"re_{first.json['id']}"
        assert ledger_rows[trial.json["id"]].refund_id is None
    finally:
        provider.__exit__(None, None, None)
