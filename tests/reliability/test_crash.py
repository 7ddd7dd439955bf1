"""§1 Crashes: `deliverycli simulate` SIGKILLed at random instants (some during payment calls, some
during subscriber batches) and resumed until it finishes; the invariants hold after every kill and
at the end. The long run (>= 20 kills, SQLite and PostgreSQL) is `make soak`."""

from __future__ import annotations

from pathlib import Path

from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings

from .crash import crash_soak


def test_simulate_survives_sigkills_at_random_instants_and_loses_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "crash.db")
    Engine.initialise(load_settings(db=db), demo=True)[0].close()
    figures = crash_soak(db, orders=300, kills=6, seed=20, payment_latency_ms=10)
    assert figures.kills == 6
    assert figures.problems == []
    assert figures.kills_during_drain >= 1 and figures.kills_during_payment + figures.kills_during_drain >= 2, figures.kill_log
    assert figures.orders >= 300 and figures.invariant_checks == 7
    assert sum(figures.final_statuses.values()) == figures.orders
