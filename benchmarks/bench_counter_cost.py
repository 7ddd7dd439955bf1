"""What keeping the counters costs the write path (issue 15 §2): `simulate` wall time with the
counters written (as shipped) vs with their write skipped, alternating in one process.

    python benchmarks/bench_counter_cost.py [--orders 150] [--rounds 3] [--json]

The baseline skips only the write (``counters.add``, the one upsert per unit of work at commit);
the deltas are still summed in memory, so the ratio is what the extra statement costs. Each run is
a fresh SQLite file; rounds alternate with/without so machine load hits both alike.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402


def main() -> None:
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from deliverycli.engine import counters
    from deliverycli.engine.simulation import SimulationOptions, simulate

    shipped = counters.add
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info()
        runs: dict[str, list[float]] = {"with counters": [], "without (baseline)": []}
        for r in range(args.rounds):
            for mode in runs:
                counters.add = shipped if mode == "with counters" else (lambda conn, deltas: None)
                db = folder / f"{r}-{len(runs[mode])}-{mode[:4]}.db"
                m.init_db(str(db))
                t0 = time.perf_counter()
                simulate(m.settings_for(str(db)), SimulationOptions(orders=args.orders, seed=r))
                runs[mode].append(time.perf_counter() - t0)
        counters.add = shipped
        medians = {k: statistics.median(v) for k, v in runs.items()}
        ratio = medians["with counters"] / medians["without (baseline)"]
        out = {"benchmark": "counter_cost", "machine": info, "orders": args.orders, "runs_s": runs, "ratio": round(ratio, 3)}
        if args.json:
            m.emit_json(out)
            return
        print(f"simulate --orders {args.orders}: wall time with the counters vs without their write, median of {args.rounds}")
        m.print_machine(info)
        for k, v in runs.items():
            print(f"{k}: median {medians[k]:.2f} s  (runs {', '.join(f'{x:.2f}' for x in v)})")
        print(f"ratio with/without: {ratio:.3f}")


if __name__ == "__main__":
    main()
