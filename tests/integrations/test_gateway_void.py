"""The payment port's ``void`` on the simulated gateway (SQLite and PostgreSQL): a voided key is
refused from then on; a key charged before the void keeps its charge; a charge and a void racing
for one key end one way or the other, never both; an older ledger gains the table in place."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from deliverycli.engine import storage
from deliverycli.engine.payment import CardDeclined
from deliverycli.engine.payment.simulated import SimulatedGateway, gateway_ledger

CARD = "4242424242424242"


def test_a_voided_key_is_refused_from_then_on(engine: Any) -> None:
    gateway = engine.gateway
    assert isinstance(gateway, SimulatedGateway)
    assert gateway.void("ord-void-1", 1.0) is None
    assert gateway.void("ord-void-1", 1.0) is None  # idempotent
    with pytest.raises(CardDeclined, match="the payment was cancelled"):
        gateway.charge("ord-void-1", 5000, CARD, 1.0)
    with pytest.raises(CardDeclined, match="the payment was cancelled"):
        gateway.charge("ord-void-1", 5000, "4000000000000119", 1.0)  # whatever the card would have done
    assert gateway.lookup("ord-void-1") is None
    # other keys are not affected
    assert gateway.charge("ord-void-2", 5000, CARD, 1.0).charge_id == "ch_ord-void-2"


def test_voiding_a_charged_key_returns_the_charge_and_voids_nothing(engine: Any) -> None:
    gateway = engine.gateway
    charged = gateway.charge("ord-void-3", 7000, CARD, 1.0)
    assert gateway.void("ord-void-3", 1.0) == charged
    assert gateway.charge("ord-void-3", 7000, CARD, 1.0) == charged  # still the same charge, not refused
    assert gateway.refund("ord-void-3", 7000, 1.0) == "re_ord-void-3"


def test_a_charge_and_a_void_racing_for_a_key_never_both_win(engine: Any) -> None:
    gateway = engine.gateway
    keys = [f"ord-race-{i:02d}" for i in range(20)]
    outcomes: dict[str, dict[str, Any]] = {k: {} for k in keys}

    def charge(key: str, start: threading.Barrier) -> None:
        start.wait()
        try:
            outcomes[key]["charge"] = gateway.charge(key, 1000, CARD, 5.0)
        except CardDeclined as exc:
            outcomes[key]["charge"] = exc

    def void(key: str, start: threading.Barrier) -> None:
        start.wait()
        outcomes[key]["void"] = gateway.void(key, 5.0)

    for key in keys:
        start = threading.Barrier(2)
        threads = [threading.Thread(target=charge, args=(key, start)), threading.Thread(target=void, args=(key, start))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    charged = voided = 0
    for key, outcome in outcomes.items():
        if isinstance(outcome["charge"], CardDeclined):
            assert outcome["void"] is None and gateway.lookup(key) is None, key  # voided first: no charge anywhere
            voided += 1
        else:
            assert outcome["void"] == outcome["charge"] == gateway.lookup(key), key  # charged first: the void says so
            charged += 1
    assert charged + voided == len(keys)


def test_a_ledger_from_before_void_gains_its_table_in_place(tmp_path: Path) -> None:
    url = storage.database_url(str(tmp_path / "old-gateway.db"))
    storage.create_sqlite_file(url)
    db = storage.make_engine(url)
    try:
        with db.begin() as conn:  # the ledger as the previous release created it: no gateway_voids
            gateway_ledger.create(conn)
            conn.execute(gateway_ledger.insert().values(idempotency_key="ord-old", charge_id="ch_ord-old", amount=100, card_suffix="4242", charged_at=storage.utcnow()))
        assert not sa.inspect(db).has_table("gateway_voids")
        old = SimulatedGateway(db)
        charged = old.lookup("ord-old")
        assert charged is not None and charged.amount == 100
        assert old.void("ord-old", 1.0) == charged
        assert old.void("ord-new", 1.0) is None
        assert sa.inspect(db).has_table("gateway_voids")
    finally:
        db.dispose()
