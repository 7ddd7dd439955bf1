"""The payment provider as a real HTTP service (`deliverycli payment-provider serve` in its own
process), called through the engine's HttpGateway: idempotent charges and refunds, the test cards,
fault injection (latency past the caller's timeout, a failure rate), void, and how the client
reads an absent or broken provider."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from deliverycli.engine.errors import NotFound
from deliverycli.engine.payment import CardDeclined, GatewayCharge, GatewayUnavailable
from deliverycli.integrations.payment_http import HttpGateway

from .support import Provider, free_port

CARD = "4242424242424242"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    with Provider(tmp_path_factory.mktemp("provider") / "ledger.db") as running:
        yield running
        assert running.stop() == 0


@pytest.fixture
def gateway(provider: Provider) -> Iterator[HttpGateway]:
    client = HttpGateway(provider.url, default_timeout_s=5, api_key=provider.api_key)
    yield client
    client.close()


def test_the_same_key_charges_once_and_refunds_once(provider: Provider, gateway: HttpGateway, request: pytest.FixtureRequest) -> None:
    key = f"ord-{request.node.name[:40]}"
    first = gateway.charge(key, 18000, CARD, 5)
    assert (first.charge_id, first.amount, first.card_suffix, first.refund_id) == (f"ch_{key}", 18000, "4242", None)
    assert gateway.charge(key, 18000, CARD, 5) == first
    with ThreadPoolExecutor(8) as pool:  # a burst of retries at once
        assert set(pool.map(lambda _: gateway.charge(key, 18000, CARD, 5), range(16))) == {first}
    assert [r.idempotency_key for r in provider.ledger_rows()].count(key) == 1

    refund_id = gateway.refund(key, 18000, 5)
    assert gateway.refund(key, 18000, 5) == refund_id == f"re_{key}"
    (row,) = [r for r in provider.ledger_rows() if r.idempotency_key == key]
    assert (row.amount, row.refund_id) == (18000, refund_id)
    assert gateway.lookup(key) == GatewayCharge(first.charge_id, 18000, "4242", refund_id)


def test_the_test_cards_decline_or_fail_and_charge_nothing(provider: Provider, gateway: HttpGateway) -> None:
    with pytest.raises(CardDeclined, match="declined by its issuer"):
        gateway.charge("ord-card-decline", 100, "4000000000000002", 5)
    with pytest.raises(CardDeclined, match="insufficient funds"):
        gateway.charge("ord-card-funds", 100, "4000000000009995", 5)
    with pytest.raises(GatewayUnavailable, match="processing error"):
        gateway.charge("ord-card-fail", 100, "4000000000000119", 5)
    keys = {r.idempotency_key for r in provider.ledger_rows()}
    assert not keys & {"ord-card-decline", "ord-card-funds", "ord-card-fail"}
    assert gateway.lookup("ord-card-decline") is None


def test_void_refuses_the_key_from_then_on_or_returns_its_charge(provider: Provider, gateway: HttpGateway) -> None:
    assert gateway.void("ord-http-void", 5) is None
    assert gateway.void("ord-http-void", 5) is None
    with pytest.raises(CardDeclined, match="the payment was cancelled"):
        gateway.charge("ord-http-void", 100, CARD, 5)
    assert gateway.lookup("ord-http-void") is None

    charged = gateway.charge("ord-http-charged", 300, CARD, 5)
    assert gateway.void("ord-http-charged", 5) == charged
    assert gateway.charge("ord-http-charged", 300, CARD, 5) == charged


def test_refunding_what_was_never_charged_is_not_found(gateway: HttpGateway) -> None:
    with pytest.raises(NotFound, match="no charge for ord-never"):
        gateway.refund("ord-never", 100, 5)


def test_a_call_without_an_idempotency_key_or_with_a_bad_body_is_refused(provider: Provider) -> None:
    keyed = {"Authorization": f"Bearer {provider.api_key}"}
    assert httpx.post(f"{provider.url}/charges", json={"amount": 1, "card_number": CARD}, headers=keyed).status_code == 422
    bad_card = httpx.post(f"{provider.url}/charges", json={"amount": 1, "card_number": "42"}, headers=keyed | {"Idempotency-Key": "k"})
    assert bad_card.status_code == 422
    assert httpx.get(f"{provider.url}/healthz").json() == {"status": "ok", "latency_ms": 0, "failure_rate": 0.0, "seed": 0}


def test_latency_past_the_callers_timeout_is_unavailable_and_charges_nothing(tmp_path: Path) -> None:
    """The caller's timeout travels with the call: the provider gives up too, so a caller that
    heard "unavailable" was not charged."""
    with Provider(tmp_path / "slow.db", 0, "--latency-ms", "1500") as slow:
        gateway = HttpGateway(slow.url, api_key=slow.api_key)
        try:
            with pytest.raises(GatewayUnavailable, match=r"no answer within 0\.3s"):
                gateway.charge("ord-slow", 100, CARD, 0.3)
            assert gateway.lookup("ord-slow") is None  # lookups are not delayed
            assert gateway.charge("ord-patient", 100, CARD, 10).charge_id == "ch_ord-patient"  # a patient caller is served
        finally:
            gateway.close()
        assert slow.stop() == 0
        assert [r.idempotency_key for r in slow.ledger_rows()] == ["ord-patient"]


def test_a_failure_rate_makes_charges_fail_as_unavailable(tmp_path: Path) -> None:
    with Provider(tmp_path / "flaky.db", 0, "--failure-rate", "1") as flaky:
        gateway = HttpGateway(flaky.url, api_key=flaky.api_key)
        try:
            for i in range(3):
                with pytest.raises(GatewayUnavailable, match="not responding"):
                    gateway.charge(f"ord-flaky-{i}", 100, CARD, 5)
            assert httpx.get(f"{flaky.url}/healthz").json()["failure_rate"] == 1.0
        finally:
            gateway.close()
        assert flaky.stop() == 0
        assert flaky.ledger_rows() == []


def test_no_provider_listening_is_unavailable() -> None:
    gateway = HttpGateway(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(GatewayUnavailable, match="cannot reach the payment provider"):
            gateway.charge("ord-x", 100, CARD, 2)
        with pytest.raises(GatewayUnavailable, match="cannot reach"):
            gateway.lookup("ord-x")
    finally:
        gateway.close()


class _Broken(http.server.BaseHTTPRequestHandler):
    """A peer that is not a working provider: 500 on /boom, an HTML page elsewhere."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body = (500, b'{"detail": "database exploded"}') if "boom" in self.headers.get("Idempotency-Key", "") else (200, b"<html>hello</html>")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


def test_a_5xx_or_a_peer_that_is_not_the_provider_is_unavailable() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway = HttpGateway(f"http://127.0.0.1:{server.server_address[1]}")
    try:
        with pytest.raises(GatewayUnavailable, match="database exploded"):
            gateway.charge("ord-boom", 100, CARD, 5)
        with pytest.raises(GatewayUnavailable, match="other than JSON"):
            gateway.charge("ord-html", 100, CARD, 5)
    finally:
        gateway.close()
        server.shutdown()
        server.server_close()


def test_serve_refuses_bad_options_clearly(cli: Any, tmp_path: Path, provider: Provider) -> None:
    busy = cli("--json", "payment-provider", "serve", "--port", str(provider.port), "--ledger", str(tmp_path / "l.db"))
    assert busy.code == 4 and busy.json["error"]["code"] == "conflict" and f"cannot listen on 127.0.0.1:{provider.port}" in busy.json["error"]["message"]
    rate = cli("--json", "payment-provider", "serve", "--failure-rate", "2")
    assert rate.code == 2 and "--failure-rate" in rate.json["error"]["message"]
    folder = cli("--json", "payment-provider", "serve", "--port", "0", "--ledger", str(tmp_path))
    assert folder.code == 2 and "is a folder" in folder.json["error"]["message"]
    assert not (tmp_path / "l.db").exists()  # a refused start created nothing


def test_the_ledger_is_listed_page_by_page_in_key_order(provider: Provider, gateway: HttpGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(5):
        gateway.charge(f"ord-ledger-{n}", 1000 + n, CARD, 5)
    gateway.refund("ord-ledger-1", 1001, 5)
    keyed = {"Authorization": f"Bearer {provider.api_key}"}
    first = httpx.get(f"{provider.url}/charges", params={"limit": 2}, headers=keyed).json()
    assert list(first["charges"]) == sorted(first["charges"]) and first["next"] == list(first["charges"])[-1]
    monkeypatch.setattr("deliverycli.integrations.payment_http.LEDGER_PAGE", 2)  # several pages, and a last one that is full
    ledger = gateway.charges()
    rows = provider.ledger_rows()
    assert list(ledger) == sorted(r.idempotency_key for r in rows)
    assert {k: (c.charge_id, c.amount, c.refund_id) for k, c in ledger.items()} == {r.idempotency_key: (r.charge_id, r.amount, r.refund_id) for r in rows}
    assert ledger["ord-ledger-1"].refund_id and ledger["ord-ledger-4"].amount == 1004
    assert httpx.get(f"{provider.url}/charges", params={"limit": 0}, headers=keyed).status_code == 422


def test_doctor_check_compares_our_payments_with_the_providers_ledger_over_http(tmp_path: Path, cli: Any) -> None:
    """With the provider over HTTP, `doctor --check` reads its ledger too: clean after real orders, a
    charge the provider holds for no order is named, and a provider that cannot answer leaves the
    ledger "not checked" (with why) rather than failing the other checks."""
    db = str(tmp_path / "shop.db")
    assert cli("init", "--demo", db=db).code == 0
    with Provider(tmp_path / "ledger.db") as running:
        env = running.env
        for customer in ("alice", "bob"):
            placed = cli("--json", "orders", "place", "--customer", customer, "--store", "pizza-palace", "--item", "cola", "--address", "1 Ledger St", db=db, env=env)
            assert placed.code == 0, placed.stdout
        cancelled = cli("--json", "orders", "cancel", placed.json["id"], "--customer", "bob", db=db, env=env)
        assert cancelled.code == 0, cancelled.stdout  # refunded through the provider
        clean = cli("--json", "doctor", "--check", db=db, env=env)
        assert clean.code == 0 and clean.json["invariants"]["ledger"] == "checked" and clean.json["invariants"]["ok"], clean.stdout
        stray = HttpGateway(running.url, api_key=running.api_key)
        stray.charge("ord-nobody", 500, CARD, 5)  # the provider charged for an order we never placed
        stray.close()
        found = cli("--json", "doctor", "--check", db=db, env=env)
        assert found.code == 1 and found.json["invariants"]["offending_orders"] == ["ord-nobody"], found.stdout
        assert [p["check"] for p in found.json["invariants"]["problems"]] == ["charge-without-order"]
        assert running.stop() == 0
    gone = cli("--json", "doctor", "--check", db=db, env=env)
    assert gone.json["invariants"]["ledger"].startswith("not checked (the payment provider could not list its charges: cannot reach"), gone.stdout
    assert gone.json["invariants"]["ok"], gone.stdout  # everything else still checked, and clean


def test_every_call_but_healthz_needs_one_of_the_providers_keys_which_it_keeps_only_hashed(tmp_path: Path, cli: Any) -> None:
    """The first start makes a key and prints it once; the ledger keeps its SHA-256 alone. A call
    without a key, or with one the provider never made, is 401 and charges nothing; `--new-key`
    makes another that works beside the first. The engine names a missing key before any call."""
    ledger = tmp_path / "keyed.db"
    with Provider(ledger) as first:
        key = first.api_key
        assert key.startswith("sk_") and len(key) > 40
        for headers in ({}, {"Authorization": "Bearer sk_not-one-of-ours"}, {"Authorization": f"Basic {key}"}):
            refused = httpx.post(f"{first.url}/charges", json={"amount": 1, "card_number": CARD}, headers=headers | {"Idempotency-Key": "ord-nokey"})
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer", refused.text
        assert httpx.get(f"{first.url}/charges/ord-nokey").status_code == 401
        assert httpx.get(f"{first.url}/healthz").status_code == 200  # a probe needs no key
        wrong = HttpGateway(first.url, api_key="sk_not-one-of-ours")
        with pytest.raises(GatewayUnavailable, match="refused our API key"):
            wrong.charge("ord-nokey", 100, CARD, 5)
        wrong.close()
        assert first.ledger_rows() == []
        assert first.stop() == 0
    assert key.encode() not in ledger.read_bytes()  # only its hash is stored
    with Provider(ledger) as again, Provider(ledger, 0, "--new-key") as another:
        assert again.info["api_key"] is None  # not shown again
        new = another.api_key
        assert new and new != key
        for url, k in ((again.url, key), (another.url, new)):
            client = HttpGateway(url, api_key=k)
            assert client.charge(f"ord-key-{k[-4:]}", 100, CARD, 5).amount == 100
            client.close()
    no_key = cli("--json", "status", "ord-x", env={"DELIVERYCLI_PAYMENT_GATEWAY": "http", "DELIVERYCLI_PAYMENT_URL": "http://127.0.0.1:9"})
    assert no_key.code == 2 and "payment_api_key" in no_key.json["error"]["message"], no_key.stdout
