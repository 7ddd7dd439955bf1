"""CLI cold start: `deliverycli status ORDER --json` vs `python -c "import typer, sqlalchemy"`.

    python benchmarks/bench_cli_cold_start.py [--runs 20] [--json]

Each command is a fresh process (wall time from spawn to exit, measured here), run interleaved
with the baseline so both see the same machine load; the median of ``--runs`` is reported after
``--warmup`` unmeasured rounds (so the OS file cache and .pyc files are warm for both). Target:
median ratio <= 1.3. Also prints where the status command's import time goes (``-X importtime``)
and whether Textual is imported on this CLI path (it must not be).

Bytecode: the commands run with ``PYTHONPYCACHEPREFIX`` in the work folder and bytecode writing on,
so the warm-up leaves a .pyc for every module either command imports. With ``PYTHONDONTWRITEBYTECODE``
set (as in some shells and CI), deliverycli's own modules would otherwise be compiled from source on
every run while the baseline's (installed packages) come with theirs: an installed deliverycli has
its .pyc too. Another row, not part of the ratio, imports what this Typer version loads to convert
any option or argument that is not a flag (pydantic, for its TypeAdapters): a floor under the CLI.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402

TARGET_RATIO = 1.3


def prepare(db: str) -> str:
    """A database with the demo catalogue and one order taken through its whole lifecycle."""
    from deliverycli.engine.bootstrap import Engine

    engine, _ = Engine.initialise(m.settings_for(db), demo=True)
    try:
        order = engine.orders.place("alice", "pizza-palace", ["margherita:2", "cola"], "101 Maple Rd")
        engine.store.accept(order.id, "pizza-palace")
        engine.store.ready(order.id, "pizza-palace")
        engine.deliveries.pick_up(order.id, "rider-kim" if any(r["id"] == "rider-kim" for r in engine.catalog.riders()) else engine.catalog.riders()[0]["id"])
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


def import_profile(cmd_args: list[str]) -> dict[str, Any]:
    """Import time per package (the sum of its modules' own times) for one run of the status command."""
    script = m.deliverycli_cmd()
    argv = [sys.executable, "-X", "importtime", *(script if script[0] != sys.executable else script[1:]), *cmd_args]
    done = subprocess.run(argv, capture_output=True, text=True)
    per_package: dict[str, int] = defaultdict(int)
    modules = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _cumulative_us, raw_name = line[len("import time:"):].split("|", 2)
        try:
            own_us = int(self_us)
        except ValueError:  # the header line
            continue
        name = raw_name.strip()
        modules.append(name)
        per_package[name.split(".")[0]] += own_us
    top = sorted(per_package.items(), key=lambda kv: -kv[1])[:12]
    total_us = sum(per_package.values())
    heavy = ("textual", "rich", "pydantic", "alembic", "sqlalchemy", "typer", "click", "pybreaker", "psycopg")
    return {
        "modules_imported": len(modules),
        "total_import_ms": round(total_us / 1000, 1),
        "top_packages_ms": [{"package": k, "ms": round(v / 1000, 1)} for k, v in top],
        "textual_imported": any(n == "textual" or n.startswith("textual.") for n in modules),
        "heavy_packages_imported": sorted({n.split(".")[0] for n in modules if n.split(".")[0] in heavy}),
    }


def main() -> None:
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each command (default 20)")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info()
        info["bytecode"] = {"pycache_prefix": str(folder / "pycache"), "PYTHONDONTWRITEBYTECODE_was_set": "PYTHONDONTWRITEBYTECODE" in os.environ}
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # for the measured commands (this process has imported already)
        os.environ["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        db = str(folder / "cold.db")
        order_id = prepare(db)
        status_args = ["--db", db, "status", order_id, "--json"]
        commands = {
            "deliverycli status ORDER --json": [*m.deliverycli_cmd(), *status_args],
            'python -c "import typer, sqlalchemy"': [sys.executable, "-c", "import typer, sqlalchemy"],
            'python -c "pass" (interpreter alone)': [sys.executable, "-c", "pass"],
            "deliverycli --help": [*m.deliverycli_cmd(), "--help"],
            'python -c "import typer, sqlalchemy, typer._adapters"': [sys.executable, "-c", "import typer, sqlalchemy, typer._adapters"],
        }
        times: dict[str, list[float]] = {k: [] for k in commands}
        for i in range(args.warmup + args.runs):
            for name, cmd in commands.items():
                t = timed(cmd)
                if i >= args.warmup:
                    times[name].append(t)
        rows = []
        for name, ts in times.items():
            ms = [t * 1000 for t in ts]
            rows.append({"what": name, "median_ms": round(statistics.median(ms), 1), "p90_ms": round(m.percentile(ms, 90), 1), "min_ms": round(min(ms), 1)})
        status_ms, base_ms = rows[0]["median_ms"], rows[1]["median_ms"]
        ratio = round(status_ms / base_ms, 2)
        floor_ratio = round(rows[4]["median_ms"] / base_ms, 2)
        imports = import_profile(status_args)
        result = {"benchmark": "cli_cold_start", "machine": info, "runs": args.runs, "commands": rows, "ratio": ratio, "floor_ratio": floor_ratio, "target": TARGET_RATIO, "imports": imports}
        if args.json:
            m.emit_json(result)
            return
        print("CLI cold start: fresh processes, wall time from spawn to exit")
        m.print_machine(info)
        was_set = " (PYTHONDONTWRITEBYTECODE was set; unset for the measured commands)" if info["bytecode"]["PYTHONDONTWRITEBYTECODE_was_set"] else ""
        print(f"bytecode: written under {info['bytecode']['pycache_prefix']} by the warm-up rounds{was_set}")
        m.print_table(rows, [("what", f"command ({args.runs} runs each, interleaved)"), ("median_ms", "median ms"), ("p90_ms", "p90 ms"), ("min_ms", "min ms")])
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        print(f"\nratio status / import-typer-sqlalchemy (medians): {ratio}  (target <= {TARGET_RATIO}: {verdict})")
        print(f"floor: importing Typer's parameter coercion (pydantic) alone is {floor_ratio}x the baseline")
        print(f"Textual imported on the status path: {'YES (must not be)' if imports['textual_imported'] else 'no'}")
        print(f"heavy packages imported: {', '.join(imports['heavy_packages_imported'])}; {imports['modules_imported']} modules in all")
        m.print_table(
            imports["top_packages_ms"], [("package", "package"), ("ms", "import ms (own time of its modules)")],
            title=f"Where the status command's import time goes (one run, -X importtime: {imports['total_import_ms']} ms of imports in all)",
        )


if __name__ == "__main__":
    main()
