"""`make soak`: the long reliability run, with its figures written to docs/reliability.md.

- the crash soak: `deliverycli simulate` SIGKILLed at least 20 times at random instants (a seeded
  RNG; kills are aimed in turn at a random instant, at a payment call and at a subscriber batch)
  and resumed until it finishes, on SQLite and on PostgreSQL; the invariants are checked after
  every kill and at the end;
- the random command sequences (tests/reliability/test_stateful.py) with many more examples;
- the fault phases (tests/reliability/fault_soak.py): payment calls paused with SIGSTOP/SIGCONT, a
  disk filling up and freed, PostgreSQL backends terminated mid-run, a database host falling silent.

Run from the repository root: `python -m tests.reliability.soak [--kills N] [--orders N] ...`.
PostgreSQL is used when DELIVERYCLI_TEST_POSTGRES_URL is set or a server answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from deliverycli.engine.bootstrap import Engine
from deliverycli.settings import load_settings

from . import fault_soak
from .crash import SoakFigures, crash_soak

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str | None:
    url = os.environ.get("DELIVERYCLI_TEST_POSTGRES_URL")
    if url:
        return url
    try:
        socket.create_connection(("127.0.0.1", 5432), 2).close()
    except OSError:
        return None
    return DEFAULT_PG


class _Schema:
    """A fresh PostgreSQL schema for one run, dropped afterwards."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.name = f"soak_{uuid.uuid4().hex[:10]}"
        self.admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")

    def __enter__(self) -> str:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.name}"'))
        return f"{self.base}{'&' if '?' in self.base else '?'}options=-csearch_path%3D{self.name}"

    def __exit__(self, *exc: Any) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


def soak_backend(db: str, args: argparse.Namespace, orders: int) -> SoakFigures:
    Engine.initialise(load_settings(db=db), demo=True)[0].close()
    return crash_soak(
        db, orders=orders, kills=args.kills, seed=args.seed, payment_latency_ms=args.latency_ms,
        log=lambda line: print(f"  [{'pg' if '://' in db else 'sqlite'}] {line}", flush=True), timeout_s=args.timeout,
    )


def run_stateful(db: str, examples: int) -> dict[str, Any]:
    from . import test_stateful

    started = time.perf_counter()
    done, steps = test_stateful._run(db, examples, steps=20)
    return {"examples": done, "steps": steps, "wall_time_s": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs to survive per backend (default 20)")
    parser.add_argument("--orders", type=int, default=1500, help="orders per simulate run on SQLite (default 1500)")
    parser.add_argument("--pg-orders", type=int, default=800, help="orders per simulate run on PostgreSQL (default 800)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--latency-ms", type=int, default=10, help="simulated payment latency, so kills land during payment calls")
    parser.add_argument("--examples", type=int, default=1500, help="random command sequences on SQLite (PostgreSQL: a fifth)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--pauses", type=int, default=10, help="payment calls paused with SIGSTOP per backend (default 10)")
    parser.add_argument("--disk-rounds", type=int, default=6, help="times the disk fills up and is freed (SQLite; default 6)")
    parser.add_argument("--terminations", type=int, default=20, help="PostgreSQL backend terminations (default 20)")
    parser.add_argument("--silences", type=int, default=8, help="times the PostgreSQL host falls silent (default 8)")
    parser.add_argument("--phases", default="crash,faults", help="crash (kills + random sequences), faults, or both")
    parser.add_argument("--out", default=str(ROOT / "docs" / "reliability.md"))
    args = parser.parse_args(argv)

    os.environ.setdefault("DELIVERYCLI_CONFIG", str(Path(tempfile.gettempdir()) / "deliverycli-soak-no-config.toml"))
    for name in list(os.environ):
        if name.startswith("DELIVERYCLI_") and name not in ("DELIVERYCLI_TEST_POSTGRES_URL", "DELIVERYCLI_CONFIG"):
            del os.environ[name]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    results: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    phases = {p.strip() for p in args.phases.split(",")}
    faults: list[fault_soak.FaultFigures] = []
    with tempfile.TemporaryDirectory(prefix="deliverycli-soak-") as tmp:
        for backend in backends:
            base = _postgres_url() if backend == "postgres" else None
            if backend == "postgres" and base is None:
                print("PostgreSQL: no server (set DELIVERYCLI_TEST_POSTGRES_URL); skipped", flush=True)
                continue
            if "crash" in phases:
                results[backend] = crash_phase(backend, base, Path(tmp), args)
            if "faults" in phases:
                faults += fault_phases(backend, base, Path(tmp), args)
    if "crash" not in phases:
        print("fault phases only: docs not rewritten (they need the crash soak's figures too)", flush=True)
        for figures in faults:
            print(json.dumps(figures.as_dict()), flush=True)
        return 0 if all(f.money_mismatches == f.stuck == f.internal_errors == f.hangs == 0 for f in faults) else 1
    Path(args.out).write_text(render(results, args, time.perf_counter() - started, faults))
    print(f"figures written to {args.out}")
    return 0 if all(f.money_mismatches == f.stuck == f.internal_errors == f.hangs == 0 for f in faults) else 1


def crash_phase(backend: str, base: str | None, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The kill soak and the random command sequences on one backend."""
    if backend == "sqlite":
        print(f"crash soak on SQLite: {args.kills} kills, {args.orders} orders per run", flush=True)
        figures = soak_backend(str(tmp / "soak.db"), args, args.orders)
        print("random command sequences on SQLite", flush=True)
        stateful = run_stateful(str(tmp / "stateful.db"), args.examples)
    else:
        assert base is not None
        print(f"crash soak on PostgreSQL: {args.kills} kills, {args.pg_orders} orders per run", flush=True)
        with _Schema(base) as db:
            figures = soak_backend(db, args, args.pg_orders)
        print("random command sequences on PostgreSQL", flush=True)
        with _Schema(base) as db:
            stateful = run_stateful(db, max(100, args.examples // 5))
    print(f"  {backend}: {figures.kills} kills survived, {figures.orders} orders, {figures.events} events, "
          f"{figures.wall_time_s} s; {stateful['examples']} examples", flush=True)
    return {"crash": figures, "stateful": stateful}


def fault_phases(backend: str, base: str | None, tmp: Path, args: argparse.Namespace) -> list[fault_soak.FaultFigures]:
    """Pauses on both backends; the full disk on SQLite; terminated backends and a silent host on PostgreSQL."""
    rng = random.Random(args.seed)
    done: list[fault_soak.FaultFigures] = []

    def report(figures: fault_soak.FaultFigures) -> None:
        done.append(figures)
        print(f"  [{figures.backend}] {figures.phase}: {figures.faults} faults, {figures.orders} orders, money mismatches "
              f"{figures.money_mismatches}, stuck {figures.stuck}, internal errors {figures.internal_errors}, hangs {figures.hangs}"
              f"{'; ' + figures.notes if figures.notes.startswith('skipped') else ''}", flush=True)

    if backend == "sqlite":
        db = str(tmp / "pauses.db")
        Engine.initialise(load_settings(db=db), demo=True)[0].close()
        print(f"payment pauses on SQLite: {args.pauses}", flush=True)
        report(fault_soak.payment_pauses(db, args.pauses, rng))
        print(f"disk full and freed on SQLite: {args.disk_rounds} rounds", flush=True)
        report(fault_soak.disk_full(args.disk_rounds, args.seed, tmp))
        return done
    assert base is not None
    with _Schema(base) as db:
        Engine.initialise(load_settings(db=db), demo=True)[0].close()
        print(f"payment pauses on PostgreSQL: {args.pauses}", flush=True)
        report(fault_soak.payment_pauses(db, args.pauses, rng))
    with _Schema(base) as db:
        Engine.initialise(load_settings(db=db), demo=True)[0].close()
        print(f"terminated backends on PostgreSQL: {args.terminations}", flush=True)
        report(fault_soak.terminated_backends(db, base, args.terminations, args.seed))
    schema = _Schema(base)
    with schema as db:
        Engine.initialise(load_settings(db=db), demo=True)[0].close()
        print(f"silent database host: {args.silences} silences", flush=True)
        report(fault_soak.silent_host(schema.name, args.silences, args.seed))
    return done


def render(results: dict[str, dict[str, Any]], args: argparse.Namespace, wall: float, faults: list[fault_soak.FaultFigures]) -> str:
    from .test_bad_input import CASES
    from .test_races import ROUNDS
    from .test_stateful import EXAMPLES

    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    cols = [b for b in ("sqlite", "postgres") if b in results]
    crash = {b: results[b]["crash"] for b in cols}
    stateful = {b: results[b]["stateful"] for b in cols}

    def row(label: str, values: list[Any]) -> str:
        return f"| {label} | " + " | ".join(str(v) for v in values) + " |"

    lines = [
        "# Reliability: crashes, races, faults and bad input lose nothing",
        "",
        "What SPEC §6 promises, and how it is proven. The figures below were written by `make soak`",
        f"({datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()}; total {wall / 60:.1f} min).",
        "",
        "## The invariants",
        "",
        "`deliverycli doctor --check` (the product's `deliverycli/engine/invariants.py`) checks, against the",
        "event log, that every order is in exactly one status reached by allowed transitions; each paid order",
        "was charged once, for its total, at the payment provider; each cancelled or store-rejected order was",
        "refunded exactly once and nothing else was; no order reached the store without an approved charge;",
        "no subscriber took effect on any event twice or skipped one; the status view equals a rebuild from",
        "the log; and there is one notification per status change. It exits 1 and names the offending orders.",
        "`deliverycli views rebuild` rebuilds the status view from the log (never re-sending notifications).",
        "",
        "## Crash soak (`make soak`)",
        "",
        f"`deliverycli simulate` in a subprocess, SIGKILLed at random instants (seeded RNG, seed {args.seed};",
        f"{args.latency_ms} ms simulated payment latency), restarted with `--resume` until it finishes. After a random",
        "delay each kill is aimed in turn: at once, at the moment an order is seen waiting for its charge, or at",
        "the moment a subscriber batch is seen committing (the next one is then under way). The invariants",
        "were checked on the crashed database after every kill, and after the last run.",
        "",
        "| | " + " | ".join(names[b] for b in cols) + " |",
        "|---|" + "---|" * len(cols),
        row("kills survived", [crash[b].kills for b in cols]),
        row("… during a payment call (an order PENDING_PAYMENT right after the kill)", [crash[b].kills_during_payment for b in cols]),
        row("… during subscriber batches (a position moved within 100 ms of the kill)", [crash[b].kills_during_drain for b in cols]),
        row("… with events waiting for a subscriber right after the kill (lag > 0)", [crash[b].kills_with_backlog for b in cols]),
        row("restarts with `--resume`", [crash[b].restarts for b in cols]),
        row("simulate runs (orders per run)", [f"{crash[b].runs} ({crash[b].planned_orders})" for b in cols]),
        row("orders", [crash[b].orders for b in cols]),
        row("final statuses", [", ".join(f"{k} {v}" for k, v in crash[b].final_statuses.items()) for b in cols]),
        row("events", [f"{crash[b].events:,}" for b in cols]),
        row("notifications", [f"{crash[b].notifications:,}" for b in cols]),
        row("invariant checks (after each kill and at the end)", [crash[b].invariant_checks for b in cols]),
        row("broken invariants", [len(crash[b].problems) for b in cols]),
        row("wall time", [f"{crash[b].wall_time_s} s" for b in cols]),
        "",
        *render_faults(faults),
        "## Random command sequences",
        "",
        "A hypothesis `RuleBasedStateMachine` (tests/reliability/test_stateful.py) drives random commands from",
        "every role, illegal ones included (unknown ids, wrong actors, wrong states, bad input), predicts each",
        "exit code and resulting status, and checks the invariants after every step.",
        "",
        "| | " + " | ".join(names[b] for b in cols) + " |",
        "|---|" + "---|" * len(cols),
        row("examples in `make test`", [EXAMPLES[b] for b in cols]),
        row("examples in `make soak` (up to 20 steps each)", [stateful[b]["examples"] for b in cols]),
        row("steps in `make soak`", [f"{stateful[b]['steps']:,}" for b in cols]),
        row("wall time in `make soak`", [f"{stateful[b]['wall_time_s']} s" for b in cols]),
        "",
        "## In `make test` (both backends)",
        "",
        "- crashes: a shorter soak (6 SIGKILLs of `simulate`, SQLite) and the engine's kill -9 tests;",
        f"- races between real processes started at the same instant: two riders picking up one delivery ({ROUNDS} rounds),",
        f"  a customer cancelling while the store accepts ({ROUNDS} rounds), two cancels of one order ({ROUNDS} rounds), two",
        "  stores' owners working at once (with one reaching for the other's order), twelve processes placing",
        "  orders together (two of them with one idempotency key);",
        "- faults: a failing and a slow payment gateway (the breaker opens, fails fast with exit 6, half-opens",
        "  after the cool-down), a subscriber failing on one event (retried with backoff, parked, listed,",
        "  redriven), a database locked longer than the busy timeout (a clear error, nothing half-written);",
        f"- bad input: {len(CASES)} cases over every command group, each with its exit code, a clear message, no",
        "  traceback, and every row of every table unchanged;",
        "- data protection: owner-only database files (and their WAL files); no card number in clear.",
        "",
    ]
    return "\n".join(lines)


def render_faults(faults: list[fault_soak.FaultFigures]) -> list[str]:
    if not faults:
        return []
    head = "| phase | backend | faults injected | orders | commands (exit codes) | money mismatches | stuck orders | internal errors | hangs | wall time |"
    lines = [
        "## Faults (`make soak`)",
        "",
        "Real processes under injected faults (tests/reliability/fault_soak.py), each phase ending with a",
        "catch-up and `doctor --check` on its database. Money mismatches are invariant problems about charges",
        "and refunds; stuck orders are orders still waiting for a payment, dead letters, or events no",
        "subscriber applied after that catch-up; internal errors are exit 1 or a traceback.",
        "",
        head,
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in faults:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(f.exit_codes.items()))
        lines.append(f"| {f.phase} | {f.backend} | {f.faults} | {f.orders:,} | {f.commands} ({codes}) | {f.money_mismatches} | {f.stuck} | "
                     f"{f.internal_errors} | {f.hangs} | {f.wall_time_s} s |")
    total = sum(f.faults for f in faults)
    lines += ["", f"Faults injected in all: {total}. How each phase works:", ""]
    lines += [f"- {f.phase} ({f.backend}): {f.notes}" for f in faults]
    problems = [p for f in faults for p in f.problems]
    if problems:
        lines += ["", "Problems seen:", "", *[f"- {p}" for p in problems[:20]]]
    return lines + [""]


if __name__ == "__main__":
    sys.exit(main())
