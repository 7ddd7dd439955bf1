"""A payment call that outlives its timeout in a paused process must not end up charged for an order
another process already declared interrupted (issue 9 §1, the scenario exactly as reported): the
recovery voids the key at the provider first, so the paused call, when it wakes, cannot charge."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import sqlalchemy as sa

from deliverycli.engine.ordering.repository import orders

from .procs import fork_cli, warm_up
from .support import demo, open_engine


def order_status(db: str, order_id: str) -> str | None:
    with open_engine(db, catch_up=False) as engine, engine.read() as conn:
        return conn.execute(sa.select(orders.c.status).where(orders.c.id == order_id)).scalar()


def test_a_paused_payment_call_cannot_charge_an_order_recovery_declared_not_charged(db_url: str) -> None:
    warm_up()
    demo(db_url).close()
    env = os.environ | {"DELIVERYCLI_PAYMENT_LATENCY_MS": "2000", "NO_COLOR": "1"}
    argv = [sys.executable, "-m", "deliverycli", "--db", db_url, "orders", "place", "--customer", "alice", "--store", "pizza-palace",
            "--item", "margherita", "--address", "A", "--json"]
    a = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while order_status(db_url, "ord-000001") is None:  # A committed its order and is in the payment call
            assert time.monotonic() < deadline and a.poll() is None, "A never reached its payment call"
            time.sleep(0.02)
        os.kill(a.pid, signal.SIGSTOP)
        # the payment call has now outlived payment_timeout_s + 5 s (as after `sleep 10`): say so without waiting
        with open_engine(db_url, catch_up=False) as engine, engine.write() as conn:
            placed = conn.execute(sa.select(orders.c.placed_at).where(orders.c.id == "ord-000001")).scalar_one()
            conn.execute(orders.update().where(orders.c.id == "ord-000001").values(placed_at=placed - timedelta(seconds=60)))
        bob = fork_cli("orders", "place", "--customer", "bob", "--store", "pizza-palace", "--item", "cola", "--address", "B", "--json", db=db_url)
        assert bob.code == 0, bob.stdout
        assert order_status(db_url, "ord-000001") == "REJECTED"  # Bob's catch-up declared it interrupted
    finally:
        os.kill(a.pid, signal.SIGCONT)
    out, err = a.communicate(timeout=120)
    assert a.returncode == 6, (out, err)  # A woke: its charge was refused, and it says the order was rejected
    assert "Traceback" not in err
    with open_engine(db_url, catch_up=False) as engine:
        assert [c for c in engine.gateway.charges() if c == "ord-000001"] == []  # never charged
        assert engine.orders.get("ord-000001").status == "REJECTED"
    check = fork_cli("doctor", "--check", "--json", db=db_url)
    assert check.code == 0, check.json["problems"]
