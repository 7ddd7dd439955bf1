"""The crash soak: `deliverycli simulate` in a real subprocess, SIGKILLed at random instants (a seeded
RNG), restarted with `--resume` until it finishes; the invariants are checked after every kill and
at the end. Used by tests/reliability/test_crash.py (a few kills, in `make test`) and by
tests/reliability/soak.py (`make soak`: many kills on SQLite and PostgreSQL, figures in
docs/reliability.md).

Where each kill landed is told from outside, without touching the engine:
- *during a payment call*: right after the kill an order is PENDING_PAYMENT (committed before
  its charge, settled after it);
- *during subscriber batches*: a subscriber's tracking position moved in the 100 ms before the kill
  (a drain was running), or events were waiting for a subscriber right after it (lag > 0).
Kills are aimed in turn at a random instant, at the moment an order is seen waiting for its charge,
and at the moment a subscriber batch is seen committing (the instant itself stays random: the delay
before aiming is drawn from the seeded RNG).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from deliverycli.engine import eventlog, simulation
from deliverycli.engine.ordering import repository as ordering
from deliverycli.engine.bootstrap import Engine
from deliverycli.engine.lifecycle import FINAL
from deliverycli.settings import load_settings


# Where each kill is aimed, in turn: a random instant, the moment an order waits for its charge,
# the moment a subscriber batch commits (the next one is then under way).
AIMS = ("random", "payment", "drain")


@dataclass
class SoakFigures:
    backend: str
    seed: int
    planned_orders: int
    payment_latency_ms: int
    kills: int = 0
    kills_during_payment: int = 0
    kills_during_drain: int = 0
    kills_with_backlog: int = 0
    kills_before_run_recorded: int = 0
    restarts: int = 0
    runs: int = 0
    invariant_checks: int = 0
    orders: int = 0
    events: int = 0
    notifications: int = 0
    final_statuses: dict[str, int] = field(default_factory=dict)
    not_placed: dict[str, int] = field(default_factory=dict)
    wall_time_s: float = 0.0
    kill_log: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def backend_of(db: str) -> str:
    return "postgresql" if db.startswith("postgres") else "sqlite"


def _settings(db: str) -> Any:
    return load_settings(db=db)


def _unfinished_run(db: str) -> bool:
    with Engine.open(_settings(db), catch_up=False) as engine, engine.read() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(simulation.simulation_runs).where(simulation.simulation_runs.c.finished_at.is_(None))
        ).scalar_one() > 0


def _positions(db_engine: sa.Engine) -> dict[str, int]:
    with db_engine.connect() as conn, conn.execution_options(readonly=True).begin():
        return eventlog.positions(conn)


def _pending_payment(db_engine: sa.Engine) -> bool:
    with db_engine.connect() as conn, conn.execution_options(readonly=True).begin():
        return conn.execute(
            sa.select(ordering.orders.c.id).where(ordering.orders.c.status == "PENDING_PAYMENT").limit(1)
        ).first() is not None


def _kill_when(child: subprocess.Popen[bytes], db_engine: sa.Engine, aim: str) -> tuple[bool, bool]:
    """SIGKILL the child: now (``random``, after a 100 ms look at the positions), the moment a
    subscriber batch commits (``drain``) or the moment an order waits for its charge (``payment``),
    waiting up to 4 s for those. Returns (killed, a drain was running)."""
    before = _positions(db_engine)
    deadline = time.perf_counter() + (0.1 if aim == "random" else 4.0)
    while time.perf_counter() < deadline and child.poll() is None:
        time.sleep(0.1 if aim == "random" else 0.005)
        if aim == "drain" and _positions(db_engine) != before:
            break
        if aim == "payment" and _pending_payment(db_engine):
            break
    if child.poll() is not None:
        return False, False
    child.send_signal(signal.SIGKILL)
    child.wait()
    return True, _positions(db_engine) != before


def _after_kill(db: str) -> dict[str, Any]:
    """What a kill left behind, seen from outside, and the invariants on that crashed state."""
    with Engine.open(_settings(db), catch_up=False) as engine:
        with engine.read() as conn:
            pending = conn.execute(
                sa.select(sa.func.count()).select_from(ordering.orders).where(ordering.orders.c.status == "PENDING_PAYMENT")
            ).scalar_one()
        lag = engine.ops.lag()
        problems = [str(p) for p in engine.ops.check_invariants().problems]
    return {"pending_payment": pending, "lag": sum(lag.values()), "problems": problems}


def crash_soak(
    db: str,
    *,
    orders: int,
    kills: int,
    seed: int = 1,
    payment_latency_ms: int = 10,
    first_kill_s: tuple[float, float] = (1.2, 3.0),
    log: Any = None,
    timeout_s: float = 900,
) -> SoakFigures:
    """Drive simulate runs on ``db`` (an initialised demo database) until ``kills`` kills were
    survived and the last run finished; check the invariants after every kill and at the end."""
    rng = random.Random(seed)
    figures = SoakFigures(backend_of(db), seed, orders, payment_latency_ms)
    say = log or (lambda *_: None)
    env = os.environ | {"NO_COLOR": "1"}
    base = [sys.executable, "-m", "deliverycli", "--db", db, "simulate", "--json"]
    started = time.perf_counter()
    probe_db = Engine.open(_settings(db), catch_up=False)
    run_seed = seed
    try:
        while True:
            if time.perf_counter() - started > timeout_s:
                raise AssertionError(f"the soak did not finish within {timeout_s}s: {figures}")
            resume = _unfinished_run(db)
            if resume:
                args = ["--resume"]
                figures.restarts += 1
            else:
                figures.runs += 1
                run_seed = seed * 1000 + figures.runs
                args = [
                    "--orders", str(orders), "--seed", str(run_seed), "--payment-latency-ms", str(payment_latency_ms),
                    "--cancel-rate", "0.2", "--reject-rate", "0.1", "--payment-failure-rate", "0.02",
                ]
            with tempfile.TemporaryFile() as err:
                child = subprocess.Popen(base + args, stdout=subprocess.PIPE, stderr=err, env=env)
                if figures.kills < kills:
                    delay = rng.uniform(*first_kill_s)
                    aim = AIMS[figures.kills % len(AIMS)]
                    try:
                        child.wait(timeout=max(0.0, delay - 0.1))
                    except subprocess.TimeoutExpired:
                        killed, drain = _kill_when(child, probe_db.db, aim)
                    else:
                        killed = False
                    if killed:
                        child.stdout.close()
                        state = _after_kill(db)
                        figures.kills += 1
                        figures.invariant_checks += 1
                        figures.kills_during_payment += state["pending_payment"] > 0
                        figures.kills_during_drain += drain
                        figures.kills_with_backlog += state["lag"] > 0
                        figures.kills_before_run_recorded += not resume and not _unfinished_run(db)
                        entry = {"kill": figures.kills, "after_s": round(delay, 2), "resumed": resume, "aimed_at": aim, "drain_running": drain} | {
                            k: v for k, v in state.items() if k != "problems"
                        }
                        figures.kill_log.append(entry)
                        say(f"kill {figures.kills}: {entry}")
                        if state["problems"]:
                            figures.problems = state["problems"]
                            raise AssertionError(f"invariants broken right after kill {figures.kills}: {state['problems'][:10]}")
                        continue
                out, _ = child.communicate(timeout=timeout_s)
                err.seek(0)
                stderr = err.read().decode(errors="replace")
            assert child.returncode == 0, (child.returncode, out, stderr)
            assert "Traceback" not in stderr, stderr
            summary = json.loads(out)
            say(f"run finished: resumed={summary['resumed']} orders={summary['orders']} unfinished={summary['unfinished']}")
            for reason, n in summary["not_placed"].items():
                figures.not_placed[reason] = figures.not_placed.get(reason, 0) + n
            if summary["unfinished"] == 0 and figures.kills >= kills and not _unfinished_run(db):
                break
    finally:
        probe_db.close()
    figures.wall_time_s = round(time.perf_counter() - started, 1)
    _final_checks(db, figures)
    return figures


def _final_checks(db: str, figures: SoakFigures) -> None:
    with Engine.open(_settings(db)) as engine:  # with catch-up, as any next start would
        result = engine.ops.check_invariants()
        figures.invariant_checks += 1
        figures.problems = [str(p) for p in result.problems]
        figures.orders, figures.events = result.orders, result.events
        with engine.read() as conn:
            statuses = Counter(dict(conn.execute(sa.select(ordering.orders.c.status, sa.func.count()).group_by(ordering.orders.c.status)).all()))
            keys = conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(ordering.orders.c.idempotency_key)))).one()
            runs = conn.execute(sa.select(sa.func.count()).select_from(simulation.simulation_runs)).scalar_one()
        figures.runs = runs  # runs recorded (a first run killed before it was recorded was started again)
        figures.final_statuses = dict(sorted(statuses.items()))
        figures.notifications = len(engine.notifications.list(limit=10_000_000))
        assert engine.ops.dead_letters() == [], engine.ops.dead_letters()
        assert set(engine.ops.lag().values()) == {0}
    assert figures.problems == [], figures.problems[:20]
    # every order in exactly one status, and a final one: the runs finished
    assert set(statuses) <= {s.value for s in FINAL}, statuses
    assert keys[0] == keys[1] == figures.orders, keys  # no order placed twice for one plan
    placed = figures.runs * figures.planned_orders - sum(figures.not_placed.values())
    assert figures.orders == placed or figures.not_placed, (figures.orders, placed)
