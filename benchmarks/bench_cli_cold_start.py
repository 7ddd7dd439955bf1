"""CLI cold start: `status ORDER --json`, `--version` and `--help` against the stack's own import.

    python benchmarks/bench_cli_cold_start.py [--runs 20] [--no-callgrind] [--json]

The floor is what any CLI on this stack pays before doing anything: ``python -c "import typer,
sqlalchemy, pydantic"``. Each command is a fresh process (wall time from spawn to exit), run
interleaved with the floor so both see the same machine load; the median of ``--runs`` is reported
after ``--warmup`` unmeasured rounds. Targets: `status ORDER --json` <= 1.15 x the floor (medians);
`--version` and `--help` under 0.2 s.

Wall time moves with the machine's load; instruction counts do not. With valgrind installed, each
command and the floor also run once under ``valgrind --tool=callgrind`` (``PYTHONHASHSEED=0``), and
so do the steps of the status path one by one (settings, the engine's imports, opening the engine,
the query, the CLI around it), each as the instructions it adds to the floor: what the engine side
costs, in the same units. Also printed: the import time per package and the modules a status run
imports beyond the floor, and whether Textual is imported on the CLI path (it must not be).

Bytecode: the commands run with ``PYTHONPYCACHEPREFIX`` in the work folder and bytecode writing on,
so the warm-up leaves a .pyc for every module any command imports (an installed deliverycli has its
.pyc too), even where ``PYTHONDONTWRITEBYTECODE`` is set (as in some shells and CI).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402

STATUS_TARGET = 1.15  # status / floor, medians
FAST_TARGET_MS = 200.0  # --version and --help, median wall time
FLOOR = "import typer, sqlalchemy, pydantic"


def prepare(db: str) -> str:
    """A database with the demo catalogue and one order taken through its whole lifecycle."""
    from deliverycli.engine.bootstrap import Engine

    engine, _ = Engine.initialise(m.settings_for(db), demo=True)
    try:
        order = engine.orders.place("alice", "pizza-palace", ["margherita:2", "cola"], "101 Maple Rd")
        engine.store.accept(order.id, "pizza-palace")
        engine.store.ready(order.id, "pizza-palace")
        engine.deliveries.pick_up(order.id, "rider-kim" if any(r.id == "rider-kim" for r in engine.catalog.riders()) else engine.catalog.riders()[0].id)
        rider = engine.orders.status(order.id).rider_id
        engine.deliveries.complete(order.id, rider)
        engine.orders.confirm(order.id, "alice")
        return order.id
    finally:
        engine.close()


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed


def python_cmd(cmd: list[str]) -> list[str]:
    """The same command as ``python ...`` (valgrind and -X need the interpreter, not the script)."""
    return [sys.executable, "-m", "deliverycli", *cmd[1:]] if cmd[0] != sys.executable else cmd


def instructions(cmd: list[str]) -> int:
    """Instructions one run executes (callgrind's "Collected"); deterministic with a fixed hash seed."""
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *python_cmd(cmd)]
    done = subprocess.run(argv, capture_output=True, text=True, env=os.environ | {"PYTHONHASHSEED": "0"})
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"callgrind failed ({done.returncode}): {done.stderr[-500:]}")
    return int(found.group(1))


def status_steps(db: str, order: str) -> list[tuple[str, str]]:
    """The status path as cumulative steps, each a script run in one fresh interpreter."""
    settings = f"from deliverycli.settings import load_settings; s = load_settings(db={db!r})"
    engine = "from deliverycli.engine.bootstrap import Engine"
    opened = "e = Engine.open(s, catch_up=False)"
    return [
        ("floor: " + FLOOR, FLOOR),
        ("+ one pydantic model (what any model costs first)", f"{FLOOR}\nclass M(pydantic.BaseModel):\n    x: int\nM(x=1)"),
        ("+ settings (deliverycli.settings, pydantic-settings)", f"{FLOOR}; {settings}"),
        ("+ the engine's imports (deliverycli.engine.bootstrap)", f"{FLOOR}; {settings}; {engine}"),
        ("+ Engine.open(catch_up=False)", f"{FLOOR}; {settings}; {engine}; {opened}"),
        ("+ engine.orders.status(ORDER)", f"{FLOOR}; {settings}; {engine}; {opened}; e.orders.status({order!r}); e.close()"),
    ]


def callgrind_rows(commands: dict[str, list[str]], db: str, order: str) -> dict[str, Any]:
    """Instructions of each command and of each step of the status path, and their ratio to the floor."""
    floor = instructions([sys.executable, "-c", FLOOR])
    rows = [{"what": name, "instructions_m": round(instructions(cmd) / 1e6), "ratio": None} for name, cmd in commands.items()]
    for row in rows:
        row["ratio"] = round(row["instructions_m"] * 1e6 / floor, 3)
    steps, previous = [], None
    for name, script in status_steps(db, order):
        count = instructions([sys.executable, "-c", script])
        adds = None if previous is None else round((count - previous) / floor * 100, 1)
        if not name.startswith("+ one pydantic"):  # a side measurement: the next step builds on the floor, not on it
            previous = count
        steps.append({"step": name, "instructions_m": round(count / 1e6), "ratio": round(count / floor, 3), "adds_pct_of_floor": adds})
    return {"floor_instructions_m": round(floor / 1e6), "commands": rows, "status_steps": steps}


def engine_breakdown(imports: dict[str, Any], db: str) -> list[dict[str, Any]]:
    """Instructions each deliverycli module adds when imported after those it needs (in the order a
    status run finishes importing them), on top of the floor and the settings."""
    order = [n for n in imports["import_order"] if n.startswith("deliverycli.engine")]
    base = f"{FLOOR}; from deliverycli.settings import load_settings; s = load_settings(db={db!r})"
    floor = instructions([sys.executable, "-c", FLOOR])
    previous = instructions([sys.executable, "-c", base])
    rows = []
    for i, name in enumerate(order):
        count = instructions([sys.executable, "-c", base + "".join(f"; import {n}" for n in order[: i + 1])])
        rows.append({"module": name, "adds_m": round((count - previous) / 1e6, 1), "adds_pct_of_floor": round((count - previous) / floor * 100, 2)})
        previous = count
    return rows


def import_profile(cmd: list[str]) -> dict[str, Any]:
    """Import time per package (the sum of its modules' own times) for one run, and what it imports beyond the floor."""
    done = subprocess.run([sys.executable, "-X", "importtime", *python_cmd(cmd)[1:]], capture_output=True, text=True)
    floor = subprocess.run([sys.executable, "-c", f"{FLOOR}; import sys; print(chr(10).join(sys.modules))"], capture_output=True, text=True)
    per_package: dict[str, int] = defaultdict(int)
    own: dict[str, int] = {}  # in the order imports finish: a module after everything it imports
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _cumulative_us, raw_name = line[len("import time:"):].split("|", 2)
        try:
            own_us = int(self_us)
        except ValueError:  # the header line
            continue
        name = raw_name.strip()
        own[name] = own_us
        per_package[name.split(".")[0]] += own_us
    beyond = sorted(set(own) - set(floor.stdout.split()))
    by_package: dict[str, list[str]] = defaultdict(list)
    for name in beyond:
        by_package[name.split(".")[0]].append(name)
    heavy = ("textual", "rich", "pydantic", "pydantic_settings", "alembic", "sqlalchemy", "typer", "pybreaker", "psycopg")
    return {
        "modules_imported": len(own),
        "total_import_ms": round(sum(per_package.values()) / 1000, 1),
        "top_packages_ms": [{"package": k, "ms": round(v / 1000, 1)} for k, v in sorted(per_package.items(), key=lambda kv: -kv[1])[:12]],
        "beyond_floor": [
            {"package": pkg, "modules": len(names), "ms": round(sum(own[n] for n in names) / 1000, 1), "deliverycli_modules": [n for n in names if n.startswith("deliverycli")]}
            for pkg, names in sorted(by_package.items(), key=lambda kv: -sum(own[n] for n in kv[1]))
        ],
        "import_order": list(own),
        "textual_imported": any(n == "textual" or n.startswith("textual.") for n in own),
        "heavy_packages_imported": sorted({n.split(".")[0] for n in own if n.split(".")[0] in heavy}),
    }


def wall_rows(commands: dict[str, list[str]], runs: int, warmup: int) -> list[dict[str, Any]]:
    times: dict[str, list[float]] = {k: [] for k in commands}
    for i in range(warmup + runs):
        for name, cmd in commands.items():
            t = timed(cmd)
            if i >= warmup:
                times[name].append(t * 1000)
    return [
        {"what": name, "median_ms": round(statistics.median(ms), 1), "p90_ms": round(m.percentile(ms, 90), 1), "min_ms": round(min(ms), 1)}
        for name, ms in times.items()
    ]


def main() -> None:
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each command (default 20)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-callgrind", action="store_true", help="skip the instruction counts (about two minutes)")
    parser.add_argument("--engine-breakdown", action="store_true", help="also count what each engine module a status run imports adds (callgrind; a few minutes more)")
    args = parser.parse_args()
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info()
        info["bytecode"] = {"pycache_prefix": str(folder / "pycache"), "PYTHONDONTWRITEBYTECODE_was_set": "PYTHONDONTWRITEBYTECODE" in os.environ}
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # for the measured commands (this process has imported already)
        os.environ["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        os.environ["COLUMNS"] = "80"  # --help renders for a terminal this wide, whatever runs the benchmark
        db = str(folder / "cold.db")
        order_id = prepare(db)
        cli = m.deliverycli_cmd()
        commands = {
            "deliverycli status ORDER --json": [*cli, "--db", db, "status", order_id, "--json"],
            "deliverycli --version": [*cli, "--version"],
            "deliverycli --help": [*cli, "--help"],
            f'floor: python -c "{FLOOR}"': [sys.executable, "-c", FLOOR],
            'python -c "pass" (interpreter alone)': [sys.executable, "-c", "pass"],
        }
        rows = wall_rows(commands, args.runs, args.warmup)
        by_name = {r["what"]: r for r in rows}
        floor_ms = rows[3]["median_ms"]
        for row in rows:
            row["ratio_to_floor"] = round(row["median_ms"] / floor_ms, 2)
        status_ratio = by_name["deliverycli status ORDER --json"]["ratio_to_floor"]
        fast_ms = {k: by_name[f"deliverycli {k}"]["median_ms"] for k in ("--version", "--help")}
        counted = None
        if not args.no_callgrind and shutil.which("valgrind"):
            counted = callgrind_rows({k: v for k, v in list(commands.items())[:3]}, db, order_id)
        imports = import_profile(commands["deliverycli status ORDER --json"])
        if counted and args.engine_breakdown:
            counted["engine_modules"] = engine_breakdown(imports, db)
        result = {
            "benchmark": "cli_cold_start",
            "machine": info,
            "runs": args.runs,
            "commands": rows,
            "status_ratio": status_ratio,
            "status_target": STATUS_TARGET,
            "fast_commands_ms": fast_ms,
            "fast_target_ms": FAST_TARGET_MS,
            "callgrind": counted,
            "imports": imports,
        }
        if args.json:
            m.emit_json(result)
            return
        report(result, args.runs, args.no_callgrind)


def report(result: dict[str, Any], runs: int, no_callgrind: bool) -> None:
    info, imports, counted = result["machine"], result["imports"], result["callgrind"]
    print("CLI cold start: fresh processes, wall time from spawn to exit")
    m.print_machine(info)
    was_set = " (PYTHONDONTWRITEBYTECODE was set; unset for the measured commands)" if info["bytecode"]["PYTHONDONTWRITEBYTECODE_was_set"] else ""
    print(f"bytecode: written under {info['bytecode']['pycache_prefix']} by the warm-up rounds{was_set}")
    m.print_table(result["commands"], [("what", f"command ({runs} runs each, interleaved)"), ("median_ms", "median ms"), ("p90_ms", "p90 ms"), ("min_ms", "min ms"), ("ratio_to_floor", "x floor")])
    verdict = "met" if result["status_ratio"] <= STATUS_TARGET else "NOT met"
    print(f"\nstatus ORDER --json / floor (medians): {result['status_ratio']}  (target <= {STATUS_TARGET}: {verdict})")
    for name, ms in result["fast_commands_ms"].items():
        print(f"{name}: {ms} ms median  (target < {FAST_TARGET_MS:.0f} ms: {'met' if ms < FAST_TARGET_MS else 'NOT met'})")
    if counted:
        print(f"\nInstructions (valgrind --tool=callgrind, PYTHONHASHSEED=0; floor = {counted['floor_instructions_m']:,} M)")
        m.print_table(counted["commands"], [("what", "command"), ("instructions_m", "M instructions"), ("ratio", "x floor")])
        m.print_table(
            counted["status_steps"], [("step", "status path, step by step (one interpreter each)"), ("instructions_m", "M instructions"), ("ratio", "x floor"), ("adds_pct_of_floor", "adds % of floor")],
            title="Where the status path goes beyond the floor",
        )
        if counted.get("engine_modules"):
            m.print_table(
                counted["engine_modules"], [("module", "engine module (imported after those it needs)"), ("adds_m", "adds M instructions"), ("adds_pct_of_floor", "adds % of floor")],
                title="The engine's imports on the status path, one module at a time (after the floor and the settings)",
            )
    elif not no_callgrind:
        print("\n(valgrind not found: no instruction counts)")
    print(f"\nTextual imported on the status path: {'YES (must not be)' if imports['textual_imported'] else 'no'}")
    print(f"heavy packages imported: {', '.join(imports['heavy_packages_imported'])}; {imports['modules_imported']} modules in all")
    m.print_table(
        [{"package": b["package"], "modules": b["modules"], "ms": b["ms"]} for b in imports["beyond_floor"][:12]],
        [("package", "package"), ("modules", "modules"), ("ms", "import ms (own time)")],
        title="What a status run imports beyond the floor (one run, -X importtime)",
    )
    engine = next((b["deliverycli_modules"] for b in imports["beyond_floor"] if b["package"] == "deliverycli"), [])
    print("deliverycli modules: " + ", ".join(engine))


if __name__ == "__main__":
    main()
