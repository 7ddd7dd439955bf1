"""The console (TUI): how long each view takes to open, and what one live refresh costs, on an
empty database (the baseline) and on one with 100k orders.

    python benchmarks/bench_tui.py [--sizes 0,100000] [--runs 20] [--terminal-runs 5] [--json]

The 100k database is built as bench_scale.py builds its own (a real `simulate` run replicated with
SQL); the empty one holds the same reference data and no orders. Both then get the same ten live
orders through the engine (new, cooking, ready, on the road), so every view has rows to show.

Measured per size and view (customer, store, rider, ops, feed), in-process with Textual's headless
driver at 120x40:
  open     App start -> the view is on screen with its data (engine opened in its worker, first
           queries answered and drawn);
  refresh  one live refresh, as when another process commits an event: reload() -> every query
           answered in its worker thread and drawn (p50/p95 over --runs);
and once per size: the poll itself (Engine.head(), run every 0.5 s); propagation: another
engine places an order, until the store owner's console (polling as shipped) shows it (--runs
samples); and the real command in a real terminal (tmux): `deliverycli --db DB tui --role store
--as S` from launch to its queue on screen (median of --terminal-runs).
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _machine as m  # noqa: E402
from bench_scale import REFERENCE_TABLES, build_template, replicate  # noqa: E402

VIEWS = ("customer", "store", "rider", "ops", "feed")
SIZE = (120, 40)


def build_empty(template: Path, target: Path) -> None:
    """The template's reference data (stores, menus, customers, riders) and no orders."""
    m.init_db(str(target))
    with sqlite3.connect(target) as conn:
        conn.execute("ATTACH DATABASE ? AS t", (str(template),))
        tables = {r[0] for r in conn.execute("SELECT name FROM t.sqlite_master WHERE type='table'")}
        for table in REFERENCE_TABLES:
            if table in tables:
                conn.execute(f'INSERT OR REPLACE INTO main."{table}" SELECT * FROM t."{table}"')
        conn.commit()
        conn.execute("DETACH DATABASE t")


def add_live_orders(db: Path, store: str | None = None, customer: str | None = None) -> dict[str, str]:
    """Ten orders in flight, through the engine, for ``customer`` at ``store`` (default: the first of
    each); returns the customer, store and rider the views show. No deadlines: a database may be
    kept for days (bench_tui_terminal.py caches them), and a NEW order would be rejected after
    accept_timeout_s by the first console that catches up."""
    from deliverycli.engine.bootstrap import Engine

    with Engine.open(m.settings_for(str(db), accept_timeout_s=0, pickup_alert_s=0, confirm_timeout_s=0)) as engine:
        store = store or engine.catalog.stores()[0].id
        customer = customer or engine.catalog.customers()[0].id
        items = [f"{i.id}:1" for i in engine.catalog.menu(store)[:2]]
        rider = engine.catalog.riders()[0].id
        for n in range(10):
            order = engine.orders.place(customer, store, items, "1 Benchmark Rd").id
            if n % 4 >= 1:
                engine.store.accept(order, store)
            if n % 4 >= 2:
                engine.store.ready(order, store)
            if n % 4 == 3:
                engine.deliveries.pick_up(order, rider)
    return {"customer": customer, "store": store, "rider": rider}


async def _measure_view(db: Path, view: str, actor: str | None, runs: int) -> dict[str, Any]:
    from deliverycli.app import DeliveryApp

    started = time.perf_counter()
    app = DeliveryApp(m.settings_for(str(db)), role=view, actor=actor, poll_interval=None)
    async with app.run_test(size=SIZE) as pilot:
        screen_name = {"customer": "CustomerScreen", "store": "StoreScreen", "rider": "RiderScreen", "ops": "OpsScreen", "feed": "FeedScreen"}[view]

        def idle() -> bool:
            screen = app.screen
            return type(screen).__name__ == screen_name and screen.is_mounted and not screen._loading and not screen._load_again and _has_data(screen, view)

        while not idle():
            await asyncio.sleep(0.001)
        await pilot.pause(0)  # drawn
        open_s = time.perf_counter() - started
        screen = app.screen
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            screen.reload()
            while screen._loading or screen._load_again:
                await asyncio.sleep(0.0005)
            samples.append(time.perf_counter() - t0)
    return {"open_ms": round(open_s * 1000, 1), "refresh": m.summary_ms(samples)}


async def _measure_propagation(db: Path, who: dict[str, str], samples: int) -> dict[str, Any]:
    """Another engine (another connection, as another process would be) places an order; how long
    until the store owner's console, polling every 0.5 s as shipped, shows it in its New tab."""
    from deliverycli.app import DeliveryApp
    from deliverycli.engine.bootstrap import Engine
    from textual.widgets import DataTable

    app = DeliveryApp(m.settings_for(str(db)), role="store", actor=who["store"])
    with Engine.open(m.settings_for(str(db))) as other:
        items = [f"{i.id}:1" for i in other.catalog.menu(who["store"])[:1]]
        async with app.run_test(size=SIZE) as pilot:
            while type(app.screen).__name__ != "StoreScreen" or app.screen._loading:
                await asyncio.sleep(0.005)
            delays = []
            for _ in range(samples):
                order = await asyncio.to_thread(other.orders.place, who["customer"], who["store"], items, "2 Benchmark Rd")
                committed = time.perf_counter()
                table = app.screen.query_one("#new-table", DataTable)
                while order.id not in {str(k.value) for k in table.rows}:
                    await asyncio.sleep(0.002)
                delays.append(time.perf_counter() - committed)
                await asyncio.sleep(0.137)  # land at a different point of the poll cycle each time
            await pilot.pause(0)
    return m.summary_ms(delays)


def _has_data(screen: Any, view: str) -> bool:
    from textual.widgets import DataTable

    table = {"customer": "#order-table", "store": "#new-table", "rider": "#available", "ops": "#counts", "feed": None}[view]
    if table is None:
        return screen.last_id is not None
    return screen.query_one(table, DataTable).row_count > 0


def poll_cost(db: Path, runs: int = 200) -> dict[str, float]:
    from deliverycli.engine.bootstrap import Engine

    with Engine.open(m.settings_for(str(db))) as engine:
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            engine.events.head()
            samples.append(time.perf_counter() - t0)
    return m.summary_ms(samples)


def terminal_start(db: Path, store: str, runs: int) -> dict[str, Any] | None:
    """Launch the real command in tmux and watch its screen until the store's queue is drawn."""
    if shutil.which("tmux") is None:
        return None
    command = " ".join([*m.deliverycli_cmd(), "--db", str(db), "tui", "--role", "store", "--as", store])
    samples = []
    for _ in range(runs):
        socket = f"bench-tui-{uuid.uuid4().hex[:8]}"
        tmux = ["tmux", "-L", socket]
        t0 = time.perf_counter()
        subprocess.run([*tmux, "new-session", "-d", "-s", "b", "-x", str(SIZE[0]), "-y", str(SIZE[1]), f"TERM=xterm-256color {command}"], check=True)
        try:
            while True:
                screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "b"], capture_output=True, text=True).stdout
                if "2 Cooking (" in screen and "^q Quit" in screen:  # the counts come with the first query
                    samples.append(time.perf_counter() - t0)
                    break
                if time.perf_counter() - t0 > 60:
                    raise SystemExit(f"the console did not show the store's queue within 60 s:\n{screen}")
                time.sleep(0.01)
        finally:
            subprocess.run([*tmux, "kill-server"], capture_output=True)
    return m.summary_ms(samples) | {"median_ms": round(sorted(s * 1000 for s in samples)[len(samples) // 2], 1)}


def main() -> None:
    parser = m.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0,100000", help="comma-separated order counts (default 0,100000; the smallest is the baseline)")
    parser.add_argument("--template-orders", type=int, default=200, help="orders of the real simulate run that is replicated (default 200)")
    parser.add_argument("--runs", type=int, default=20, help="refreshes measured per view (default 20)")
    parser.add_argument("--terminal-runs", type=int, default=5, help="launches of the real command in tmux (default 5; 0 skips)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    log = (lambda msg: print(msg, file=sys.stderr, flush=True))
    with m.workdir(args) as folder:
        m.isolate_settings(folder)
        info = m.machine_info()
        log(f"template: simulating {args.template_orders} orders through the engine ...")
        template, _ = build_template(folder, args.template_orders, args.seed)
        results = []
        for size in sizes:
            db = folder / f"tui-{size}.db"
            log(f"building {size:,} orders ...")
            if size:
                replicate(template, db, size, args.template_orders, log)
            else:
                build_empty(template, db)
            who = add_live_orders(db)
            log("  measuring ...")
            views = {}
            for view in VIEWS:
                actor = who.get(view)
                views[view] = asyncio.run(_measure_view(db, view, actor, args.runs))
            result = {"orders": size + 10, "views": views, "poll": poll_cost(db), "propagation": asyncio.run(_measure_propagation(db, who, args.runs))}
            if args.terminal_runs:
                result["terminal_start"] = terminal_start(db, who["store"], args.terminal_runs)
            results.append(result)
        out = {"benchmark": "tui", "machine": info, "terminal": f"{SIZE[0]}x{SIZE[1]}", "sizes": results}
        if args.json:
            m.emit_json(out)
            return
        print(f"Console (TUI): opening each view and one live refresh, headless at {SIZE[0]}x{SIZE[1]}, SQLite file")
        m.print_machine(info)
        rows = []
        for r in results:
            for view, v in r["views"].items():
                rows.append({"orders": r["orders"], "view": view, "open": v["open_ms"], "p50": v["refresh"]["p50_ms"], "p95": v["refresh"]["p95_ms"], "max": v["refresh"]["max_ms"]})
        m.print_table(rows, [("orders", "orders"), ("view", "view"), ("open", "open ms"), ("p50", "refresh p50 ms"), ("p95", "refresh p95 ms"), ("max", "refresh max ms")])
        for r in results:
            terminal = r.get("terminal_start")
            started = f", real `deliverycli tui --role store` in tmux to its queue on screen: median {terminal['median_ms']} ms" if terminal else ""
            print(
                f"{r['orders']:,} orders: poll (Engine.head) p50 {r['poll']['p50_ms']} ms; another process's order on the store's screen "
                f"p50 {r['propagation']['p50_ms']} ms, p95 {r['propagation']['p95_ms']} ms, max {r['propagation']['max_ms']} ms{started}"
            )
        base, big = results[0], results[-1]
        if big is not base:
            worst = max(VIEWS, key=lambda v: big["views"][v]["refresh"]["p50_ms"] / max(base["views"][v]["refresh"]["p50_ms"], 1e-9))
            ratio = big["views"][worst]["refresh"]["p50_ms"] / base["views"][worst]["refresh"]["p50_ms"]
            print(f"largest refresh growth {base['orders']:,} -> {big['orders']:,} orders: {worst} x{ratio:.2f}")


if __name__ == "__main__":
    main()
