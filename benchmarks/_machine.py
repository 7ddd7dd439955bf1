"""Shared by the benchmarks: the machine they ran on, the code they measured, and small helpers.

Not a benchmark itself (`make bench` runs ``benchmarks/bench_*.py``); run it alone to print the
machine block: ``python benchmarks/_machine.py [--pg-url URL]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PG_ENV = "DELIVERYCLI_TEST_POSTGRES_URL"

if str(ROOT) not in sys.path:  # run as `python benchmarks/bench_x.py` from any folder
    sys.path.insert(0, str(ROOT))


# -- the machine and the code -------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_version() -> dict[str, Any]:
    """The commit measured, and whether the package had uncommitted changes at the time."""
    dirty = _git("status", "--porcelain", "--", "deliverycli")
    return {"commit": _git("rev-parse", "--short", "HEAD"), "uncommitted_changes_in_deliverycli": bool(dirty)}


def postgres_version(url: str) -> str | None:
    try:
        import psycopg
    except ImportError:
        return None
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        return f"unreachable ({type(exc).__name__})"


def machine_info(pg_url: str | None = None) -> dict[str, Any]:
    import sqlalchemy

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "cpu_model": _cpu_model(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
    }
    if pg_url:
        info["postgresql_server"] = postgres_version(pg_url)
    info.update(code_version())
    return info


def print_machine(info: dict[str, Any]) -> None:
    print("machine:", f"{info['cpu_count']} CPUs ({info['cpus_usable']} usable), {info['cpu_model']}, {info['os']}")
    print(
        "versions:",
        f"Python {info['python']}, SQLite {info['sqlite']}, SQLAlchemy {info['sqlalchemy']}"
        + (f", PostgreSQL server {info['postgresql_server']}" if info.get("postgresql_server") else ""),
    )
    dirty = " (+ uncommitted changes in deliverycli/)" if info.get("uncommitted_changes_in_deliverycli") else ""
    load = info.get("load_avg_at_start")
    print("code:", f"commit {info.get('commit')}{dirty}; load average at start {load}")
    if load and info.get("cpus_usable") and load[0] > 0.5 * info["cpus_usable"]:
        print(f"warning: the machine was busy when this started (1-minute load {load[0]} on {info['cpus_usable']} CPUs); expect noisy numbers")


# -- output -------------------------------------------------------------------------------------


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], title: str | None = None) -> None:
    """A plain aligned table (numbers right-aligned), readable in a log and in a pipe."""
    if title:
        print(f"\n{title}")
    cells = [[fmt(r.get(key)) for key, _ in columns] for r in rows]
    widths = [max([len(head)] + [len(c[i]) for c in cells]) for i, (_, head) in enumerate(columns)]
    numeric = [all(_is_number(r.get(key)) for r in rows) for key, _ in columns]
    line = lambda parts: "  ".join(p.rjust(w) if num else p.ljust(w) for p, w, num in zip(parts, widths, numeric))  # noqa: E731
    print(line([head for _, head in columns]))
    print(line(["-" * w for w in widths]))
    for c in cells:
        print(line(c))


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def emit_json(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2, default=str))


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--workdir", help="where to put the databases (default: a temporary folder, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    return parser


@contextmanager
def workdir(args: argparse.Namespace) -> Any:
    if args.workdir:
        path = Path(args.workdir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="deliverycli-bench-"))
    try:
        yield path
    finally:
        if args.keep:
            print(f"(kept {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


# -- statistics ---------------------------------------------------------------------------------


def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile (0..100), linear interpolation between closest ranks."""
    data = sorted(values)
    if not data:
        return float("nan")
    if len(data) == 1:
        return data[0]
    k = (len(data) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "max_ms": round(max(ms), 3),
    }


# -- databases ----------------------------------------------------------------------------------


def deliverycli_cmd() -> list[str]:
    """The installed console script when there is one (what a user runs), else ``python -m deliverycli``."""
    script = VENV_BIN / "deliverycli"
    return [str(script)] if script.exists() else [sys.executable, "-m", "deliverycli"]


def isolate_settings(folder: Path) -> None:
    """Keep the user's own settings file and DELIVERYCLI_* variables out of the measurement."""
    for name in [n for n in os.environ if n.startswith("DELIVERYCLI_") and n != PG_ENV]:
        del os.environ[name]
    os.environ["DELIVERYCLI_CONFIG"] = str(folder / "no-such-config.toml")


def init_db(db: str) -> None:
    """Create (or upgrade) a deliverycli database with the engine's own migrations, no demo data."""
    from deliverycli.engine.bootstrap import Engine
    from deliverycli.settings import load_settings

    engine, _ = Engine.initialise(load_settings(db=db))
    engine.close()


def settings_for(db: str, **overrides: Any) -> Any:
    from deliverycli.settings import load_settings

    return load_settings(db=db, **overrides)


def libpq_url(url: str) -> str:
    """A SQLAlchemy-style URL (postgresql+psycopg://) as libpq wants it."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def file_bytes(path: Path) -> int:
    """A SQLite database's size on disk: the file plus its WAL (after a checkpoint the WAL is empty)."""
    total = 0
    for suffix in ("", "-wal"):
        p = Path(str(path) + suffix)
        if p.exists():
            total += p.stat().st_size
    return total


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="print the machine block the benchmarks print")
    parser.add_argument("--pg-url", default=os.environ.get(PG_ENV))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    info = machine_info(args.pg_url)
    emit_json(info) if args.json else print_machine(info)
