"""CPU accounting for the benchmarks (Linux /proc): how busy the machine was, what each process
used, and the most a run's CPU allows."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_counters() -> tuple[int, int]:
    """(idle, total) jiffies of the whole machine so far (Linux /proc/stat), to tell how busy it was."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    return fields[3] + fields[4], sum(fields[:8])


def idle_percent(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    total = after[1] - before[1]
    return round(100 * (after[0] - before[0]) / total, 1) if total else None


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) a live process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PostgresCpu:
    """CPU seconds the PostgreSQL server's processes used since ``start()``: backends come and go, so
    ``look()`` is called during the run; a backend born meanwhile counts from zero, and one that
    exits between two looks loses what it used since the last (an underestimate; other databases'
    work on the same server counts too)."""

    def __init__(self) -> None:
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def look(self) -> None:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if not (entry / "cmdline").read_bytes().startswith(b"postgres"):
                        continue
                except OSError:
                    continue
                pid = int(entry.name)
                self.last[pid] = process_cpu_s(pid)
                self.first.setdefault(pid, 0.0)

    def start(self) -> PostgresCpu:
        self.look()
        self.first = dict(self.last)
        return self

    def used_s(self) -> float:
        self.look()
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def self_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_ceiling(rate: float, cpu_ms_per_lifecycle: float, idle_pct: float | None) -> float | None:
    """The most lifecycles/s the CPU this run had -- what it used plus what stayed idle -- allows at
    this CPU cost per lifecycle, however many workers: rate x (used + idle) / used. Other jobs'
    CPU is not counted as available."""
    used = rate * cpu_ms_per_lifecycle / 1000 / (os.cpu_count() or 1)  # the share of the machine this run used
    if idle_pct is None or used <= 0:
        return None
    return round(rate * (used + idle_pct / 100) / used, 1)
