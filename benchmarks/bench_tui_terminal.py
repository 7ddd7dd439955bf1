"""The console in a real terminal as the database grows (issue 15, "Show it"): launch-to-paint and
key-to-paint for the busiest store and the busiest customer on databases of 1k, 100k and 1M orders,
measured in rounds that interleave the sizes, in tmux at 120x40.

    python benchmarks/bench_tui_terminal.py [--sizes 1000,100000,1000000] [--rounds 5] [--cache DIR] [--json]
    python benchmarks/bench_tui_terminal.py --build-only          # only build (or find) the databases

The databases are built as bench_scale.py builds its own (a real `simulate` run of --template-orders
orders replicated with SQL, then the counters by status recounted), plus ten live orders of the
busiest customer at the busiest store through the engine (new, cooking, ready, on the road); they
are cached under --cache (default: a folder in the system's temp dir, named by schema revision),
so later runs skip the build; the build time of each is printed.

Each figure is one launch of the real `deliverycli --db DB tui --role R --as ID` in a fresh tmux
server; the screen is read with `tmux capture-pane` (with colours: a moved cursor changes only
them) every ~10 ms plus the look itself (2-5 ms), so a figure is the time until the terminal shows
the painted result, +- one look. Per launch, in order:
  store:    launch (its queue and tab counts on screen), cursor (down), tab (3: the Ready tab's newest
            ticket on screen), detail (enter: the order's timeline on screen), back (esc: the Ready
            tab again);
  customer: launch (the shop and the first store's menu on screen), tab (2: My orders' first page),
            cursor (down), detail (enter), back (esc), page (]: the second page on screen).
The baseline is the 1k database, measured in the same rounds; the ratio is median(size) /
median(1k). Targets: every figure at 1M within 1.2 x the 1k figure; cursor, tab and detail <= 100 ms.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402
from bench_scale import build_template, replicate  # noqa: E402
from bench_tui import add_live_orders  # noqa: E402

SIZE = (120, 40)
LOOK_S = 0.01  # between looks: each look is a tmux client process, which competes with the console for the CPU
TIMEOUT_S = 60.0
STORE_STEPS = ("launch", "cursor", "tab", "detail", "back")
CUSTOMER_STEPS = ("launch", "tab", "cursor", "detail", "back", "page")


# -- the databases --------------------------------------------------------------------------------


def _busiest(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        def top(scope: str) -> str:
            return conn.execute(
                "SELECT key FROM status_counts WHERE scope = ? GROUP BY key ORDER BY sum(n) DESC, key LIMIT 1", (scope,)
            ).fetchone()[0]

        return {"store": top("store"), "customer": top("customer")}


def build(cache: Path, size: int, template_orders: int, seed: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The database of ``size`` orders in ``cache`` (built once): its path, who is busiest, and how long it took."""
    db = cache / f"tui-{size}.db"
    info_file = cache / f"tui-{size}.json"
    if info_file.exists() and db.exists():
        return json.loads(info_file.read_text()) | {"cached": True}
    template = cache / "template.db"
    if not template.exists():
        log(f"template: simulating {template_orders} orders through the engine ...")
        built, _ = build_template(cache, template_orders, seed)
        assert built == template
    log(f"building {size:,} orders in {db} ...")
    started = time.perf_counter()
    copied = replicate(template, db, size, template_orders, log)
    who = _busiest(db)
    add_live_orders(db, who["store"], who["customer"])
    info = {"db": str(db), "orders": size + 10, "who": who, "build_s": round(time.perf_counter() - started, 1), "copy_s": copied["build_s"]}
    info_file.write_text(json.dumps(info))
    log(f"  built in {info['build_s']} s (copying {copied['build_s']} s)")
    return info | {"cached": False}


def _expected(db: Path, who: dict[str, str]) -> dict[str, Any]:
    """What each step should bring on screen, read from the database beforehand."""
    from deliverycli.engine.bootstrap import Engine

    with Engine.open(m.settings_for(str(db)), catch_up=False) as engine:
        first_store = engine.catalog.stores()[0]
        ready = engine.store.queue(who["store"], "READY", 1)[0].id
        mine = engine.orders.page(customer_id=who["customer"], limit=50)
        second = engine.orders.page(customer_id=who["customer"], limit=50, after=mine.next)
        return {
            "menu_item": engine.catalog.menu(first_store.id)[0].name,
            "ready": ready,
            "mine": [o.id for o in mine.orders],
            "second_page": second.orders[0].id,
        }


# -- the terminal ---------------------------------------------------------------------------------


class Terminal:
    """A command running in its own tmux server, read with capture-pane."""

    def __init__(self, command: str) -> None:
        self.tmux = ["tmux", "-L", f"bench-{uuid.uuid4().hex[:10]}"]
        self.started = time.perf_counter()
        subprocess.run([*self.tmux, "new-session", "-d", "-s", "b", "-x", str(SIZE[0]), "-y", str(SIZE[1]), f"TERM=xterm-256color {command}"], check=True)

    def screen(self, colours: bool = False) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-p", *(["-e"] if colours else []), "-t", "b"], capture_output=True, text=True).stdout

    def wait(self, painted: Callable[[str], bool], since: float, colours: bool = False, what: str = "") -> float:
        """Seconds from ``since`` until the screen satisfies ``painted``."""
        while True:
            screen = self.screen(colours)
            if painted(screen):
                return time.perf_counter() - since
            if time.perf_counter() - since > TIMEOUT_S:
                raise SystemExit(f"not on screen within {TIMEOUT_S} s: {what}\n{self.screen()}")
            time.sleep(LOOK_S)

    def key(self, key: str, painted: Callable[[str], bool], colours: bool = False, what: str = "") -> float:
        time.sleep(0.15)  # let the previous paint settle (and any animation finish) before the next key
        before = self.screen(colours)
        t0 = time.perf_counter()
        subprocess.run([*self.tmux, "send-keys", "-t", "b", key], check=True)
        return self.wait(lambda s: s != before and painted(s), t0, colours, what)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


def _store(db: Path, who: dict[str, str], want: dict[str, Any]) -> dict[str, float]:
    term = Terminal(" ".join([*m.deliverycli_cmd(), "--db", str(db), "tui", "--role", "store", "--as", who["store"]]))
    try:
        out = {"launch": term.wait(lambda s: "2 Cooking (" in s and "^q Quit" in s and "ord-" in s, term.started, what="the store's queue")}
        out["cursor"] = term.key("Down", lambda s: True, colours=True, what="the cursor moved")
        out["tab"] = term.key("3", lambda s: want["ready"] in s, what="the Ready tab's newest ticket")
        out["detail"] = term.key("Enter", lambda s: f"Order {want['ready']}" in s and "OrderPlaced" in s, what="the order's timeline")
        out["back"] = term.key("Escape", lambda s: f"Order {want['ready']}" not in s and want["ready"] in s, what="the Ready tab again")
        return out
    finally:
        term.close()


def _customer(db: Path, who: dict[str, str], want: dict[str, Any]) -> dict[str, float]:
    term = Terminal(" ".join([*m.deliverycli_cmd(), "--db", str(db), "tui", "--role", "customer", "--as", who["customer"]]))
    first, second = want["mine"][0], want["mine"][1]
    try:
        out = {"launch": term.wait(lambda s: want["menu_item"] in s and "^q Quit" in s, term.started, what="the shop and its menu")}
        out["tab"] = term.key("2", lambda s: first in s and "Orders 1–50 of" in s, what="My orders' first page")
        out["cursor"] = term.key("Down", lambda s: True, colours=True, what="the cursor moved")
        out["detail"] = term.key("Enter", lambda s: f"Order {second}" in s and "OrderPlaced" in s, what="the order's timeline")
        out["back"] = term.key("Escape", lambda s: f"Order {second}" not in s and "Orders 1–50 of" in s, what="My orders again")
        out["page"] = term.key("]", lambda s: want["second_page"] in s and "Orders 51–" in s, what="the second page")
        return out
    finally:
        term.close()


def main() -> None:
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000", help="comma-separated order counts (the smallest is the baseline)")
    parser.add_argument("--rounds", type=int, default=5, help="launches per size and role, interleaved (default 5)")
    parser.add_argument("--template-orders", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default=None, help="where the databases are kept between runs (default: <tmp>/deliverycli-bench-tui-<schema>)")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed: this benchmark needs a real terminal")
    from deliverycli.engine.storage import SCHEMA_HEAD

    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    log = (lambda msg: print(msg, file=sys.stderr, flush=True))
    cache = Path(args.cache or Path(tempfile.gettempdir()) / f"deliverycli-bench-tui-{SCHEMA_HEAD}-v2")  # v2: live orders without deadlines
    cache.mkdir(parents=True, exist_ok=True)
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info()
        dbs = {size: build(cache, size, args.template_orders, args.seed, log) for size in sizes}
        if args.build_only:
            print(json.dumps(dbs, indent=1))
            return
        want = {size: _expected(Path(d["db"]), d["who"]) for size, d in dbs.items()}
        samples: dict[tuple[int, str, str], list[float]] = {}
        for r in range(args.rounds):
            log(f"round {r + 1}/{args.rounds}")
            for size in sizes:  # interleaved: every size once per round
                db, who = Path(dbs[size]["db"]), dbs[size]["who"]
                for role, run in (("store", _store), ("customer", _customer)):
                    for step, seconds in run(db, who, want[size]).items():
                        samples.setdefault((size, role, step), []).append(seconds)
        medians = {k: statistics.median(v) * 1000 for k, v in samples.items()}
        base = sizes[0]
        rows = []
        for role, steps in (("store", STORE_STEPS), ("customer", CUSTOMER_STEPS)):
            for step in steps:
                row: dict[str, Any] = {"role": role, "step": step}
                for size in sizes:
                    row[str(size)] = round(medians[(size, role, step)], 1)
                    if size != base:
                        row[f"x{size}"] = round(medians[(size, role, step)] / medians[(base, role, step)], 2)
                rows.append(row)
        out = {
            "benchmark": "tui_terminal", "machine": info, "terminal": f"{SIZE[0]}x{SIZE[1]} tmux", "rounds": args.rounds,
            "databases": {str(s): {k: d[k] for k in ("orders", "who", "build_s", "cached")} for s, d in dbs.items()},
            "median_ms": rows, "samples_ms": {f"{s}/{r}/{st}": [round(x * 1000, 1) for x in v] for (s, r, st), v in samples.items()},
        }
        if args.json:
            m.emit_json(out)
            return
        print(f"Console in a real terminal (tmux {SIZE[0]}x{SIZE[1]}): median ms over {args.rounds} interleaved rounds; ratio to {base:,} orders")
        m.print_machine(info)
        for s, d in dbs.items():
            print(f"{d['orders']:,} orders: busiest store {d['who']['store']}, busiest customer {d['who']['customer']}; build {d['build_s']} s{' (cached)' if d['cached'] else ''}")
        columns = [("role", "role"), ("step", "step")] + [
            c for size in sizes for c in ([(str(size), f"{size:,} ms")] + ([(f"x{size}", f"x vs {base:,}")] if size != base else []))
        ]
        m.print_table(rows, columns)


if __name__ == "__main__":
    main()
