"""`serve` sends webhooks from a background thread: an order placed over HTTP reaches a real
receiver on a loopback port, every event signed and in order; two gateway processes on one database
never send an event twice at once (each endpoint is leased to one sender); a gateway stops cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integrations.webhook_receiver import Receiver

from .support import Gateway, backends, shop

FAST = {"DELIVERYCLI_WEBHOOK_POLL_S": "0.05", "DELIVERYCLI_WEBHOOK_RETRY_WAIT_INITIAL_S": "0.001", "DELIVERYCLI_WEBHOOK_RETRY_WAIT_MAX_S": "0.005",
        "DELIVERYCLI_WEBHOOK_RETRY_WAIT_JITTER_S": "0"}


@pytest.mark.parametrize("backend", backends())
def test_serve_sends_each_webhook_every_event_in_order_once(backend: str, tmp_path: Path) -> None:
    with Receiver() as receiver, shop(backend, tmp_path, env=FAST) as s:
        added = s.engine.webhooks.add(receiver.url)  # while the gateway runs: its sender picks it up
        receiver.secret = added.secret
        with Gateway(s.db, tmp_path, env=FAST) as second:  # a second gateway process on the same database
            response = s.place()
            assert response.status_code == 201, response.text
            order = response.json()["id"]
            assert s.call("POST", f"/orders/{order}/accept", "pizza").status_code == 200
            expected = [e.id for e in s.engine.events.read(after=added.position)]
            receiver.wait_for(lambda r: r.accepted_ids() == expected)
            assert second.stop() == 0
        assert all(r.valid for r in receiver.requests)
        assert [r.msg_id for r in receiver.accepted()] == [str(i) for i in expected], "each event once, in order"
        assert {json.loads(r.body)["order_id"] for r in receiver.accepted()} == {order}
