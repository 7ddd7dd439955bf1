"""The operations view: orders by status, events per minute as a sparkline, each subscriber's
position and lag, the workers with their heartbeats (stale ones flagged), dead letters (retry with
t), the payment circuit breaker, and stuck orders: those in a non-final status for longer than a
threshold (s changes it), with their deadlines that are past due and not fired yet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Sparkline, Static

from ..output import jsonable
from ..engine.lifecycle import FINAL, OrderStatus
from ..widgets.footer import ConsoleFooter
from ..widgets.format import age, clip, status_text
from ..widgets.table import Column, ConsoleTable
from .base import ConsoleScreen

MINUTES = 30  # the throughput window
THRESHOLDS_S = (60, 300, 600, 1800, 3600)
BREAKER_GLYPHS = {"closed": "●", "open": "○", "half-open": "◐"}
DEADLINE_GLYPH = "⧗"
REFRESH_S = 2.0  # besides every new event: ages, the breaker's cool-down and lag change with time


class OpsScreen(ConsoleScreen):
    CSS_PATH = "ops.tcss"
    view_name = "Operations"
    COMMAND_ACTIONS = frozenset({"retry"})
    BINDINGS = [
        Binding("t", "retry", "Retry dead letter"),
        Binding("s", "threshold", "Stuck after"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.stuck_after_s = 600.0

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="ops"):
            with Vertical(id="ops-left"):
                yield ConsoleTable(("Status", "status"), ("Orders", "orders"), id="counts", cursor_type="none", show_cursor=False)
                yield Static(id="breaker", markup=False)
                yield Sparkline([], id="throughput")
                yield ConsoleTable("Worker", "State", "Beat", id="workers", cursor_type="none", show_cursor=False,
                                   empty="No worker: commands settle sagas themselves.")
            with Vertical(id="ops-right"):
                yield ConsoleTable("Subscriber", "Position", "Lag", id="subscribers", cursor_type="none", show_cursor=False)
                yield ConsoleTable("#", "Type", "Order", Column("Subscriber", "subscriber", True), Column("Tries", "tries", True), Column("Event", "event", True), "Error", id="dead-letters", order_column=2,
                                   empty="No dead letters: every event was handled.")
                yield ConsoleTable("Order", "Status", "For", Column("Overdue", "overdue", True), Column("Customer", "customer", True), Column("Store", "store", True), id="stuck", zebra_stripes=True, order_column=None,
                                   empty="Nothing stuck: s changes how long an open order may wait.")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.stuck_after_s = float(self.console.stuck_after_s)
        self.query_one("#counts", ConsoleTable).border_title = "Orders by status"
        self.query_one("#subscribers", ConsoleTable).border_title = "Subscribers"
        self.query_one("#breaker", Static).border_title = "Payment circuit breaker"
        self.query_one("#workers", ConsoleTable).border_title = "Workers"
        self.query_one("#stuck", ConsoleTable).focus()
        if self.console.poll_interval:
            self.set_interval(REFRESH_S, self.reload)

    def reload(self) -> None:
        stuck_after, now = self.stuck_after_s, self.console.clock()
        self.load("operations", lambda engine: (now, jsonable(engine.ops.overview(stuck_after, now=now, minutes=MINUTES))), self.show_operations)

    def show_operations(self, loaded: tuple[datetime, dict[str, Any]]) -> None:
        now, ops = loaded
        self._show_counts(ops["orders_by_status"])
        self._show_breaker(ops["breaker"])
        per_minute = ops["events_per_minute"]
        sparkline = self.query_one("#throughput", Sparkline)
        sparkline.data = [float(n) for n in per_minute]
        sparkline.border_title = f"Events/min, last {MINUTES} min"
        sparkline.border_subtitle = f"last {per_minute[-1] if per_minute else 0} · peak {max(per_minute, default=0)} · total {sum(per_minute)}"
        subscribers = self.query_one("#subscribers", ConsoleTable)
        subscribers.show([
            (sub["id"], (sub["id"], f"{sub['position']:,}", Text("✔ 0") if not sub["lag"] else Text(f"⧗ {sub['lag']}", style="bold")))
            for sub in ops["subscribers"]
        ])
        running = ops.get("workers", [])
        subscribers.border_subtitle = f"head #{ops['head']:,} · backlog {ops.get('backlog', 0):,} · workers {sum(not w['stale'] for w in running)}"
        self._show_workers(ops.get("workers", []))
        self._show_dead_letters(ops["dead_letters"])
        self._show_stuck(now, ops["stuck"], ops["stuck_count"], ops.get("overdue_timers", []), ops.get("overdue_timer_count", 0))

    def _show_counts(self, counts: dict[str, int]) -> None:
        table = self.query_one("#counts", ConsoleTable)
        table.show([(status.value, (status_text(status.value), Text(f"{counts.get(status.value, 0):,}", justify="right"))) for status in OrderStatus])
        open_orders = sum(n for s, n in counts.items() if s not in FINAL)
        table.border_subtitle = f"{sum(counts.values()):,} orders · {open_orders:,} open"

    def _show_breaker(self, breaker: dict[str, Any]) -> None:
        state = breaker["state"]
        text = f"{BREAKER_GLYPHS.get(state, '?')} {state} · {breaker['fail_counter']}/{breaker['fail_max']} consecutive failures"
        if state == "open" and breaker.get("half_open_at"):
            text += f"\ntries again at {self.time(breaker['half_open_at'])}"
        elif state == "half-open":
            text += "\nthe next payment is a trial call"
        self.query_one("#breaker", Static).update(text)

    def _show_workers(self, running: list[dict[str, Any]]) -> None:
        table = self.query_one("#workers", ConsoleTable)
        table.show([
            (w["id"], (w["id"], Text("✖ stale", style="bold") if w["stale"] else w["state"], age(w["silent_s"])))
            for w in running
        ])
        stale = sum(w["stale"] for w in running)
        table.border_subtitle = f"{len(running) - stale} live" + (f" · {stale} stale" if stale else "")

    def _show_dead_letters(self, dead: list[dict[str, Any]]) -> None:
        table = self.query_one("#dead-letters", ConsoleTable)
        table.show([
            (str(d["id"]), (str(d["id"]), d["event_type"], d["order_id"], d["subscriber"], str(d["attempts"]), f"#{d['event_id']}", clip(d["error"], 80)))
            for d in dead[:100]
        ])
        table.border_title = f"Dead letters ({len(dead)})" + (" · t retries" if dead else "")

    def _show_stuck(self, now: datetime, stuck: list[dict[str, Any]], count: int, overdue: list[dict[str, Any]], overdue_count: int) -> None:
        table = self.query_one("#stuck", ConsoleTable)
        late: dict[str, list[str]] = {}
        for timer in overdue:  # a deadline past due that no process has fired yet (no worker running?)
            late.setdefault(timer["order_id"], []).append(f"{DEADLINE_GLYPH} {timer['kind']}")
        table.show([
            (order["id"], (order["id"], status_text(order["status"]), age((now - datetime.fromisoformat(order["updated_at"])).total_seconds()),
                           ", ".join(late.get(order["id"], [])) or "-", order["customer_id"], order["store_id"]))
            for order in stuck
        ])
        shown = f"oldest {len(stuck)} of {count:,}" if count > len(stuck) else f"{count:,}"
        table.border_title = f"Stuck > {age(self.stuck_after_s)} ({shown})" + (f" · {DEADLINE_GLYPH} {overdue_count:,} overdue" if overdue_count else "")
        table.border_subtitle = "s: threshold"

    # -- commands -----------------------------------------------------------------------------

    def action_retry(self) -> None:
        key = self.query_one("#dead-letters", ConsoleTable).highlighted_key()
        if key is None:
            self.notify("No dead letter to retry.", title="Dead letters")
            return
        self.act(
            lambda engine: jsonable(engine.ops.retry_dead_letter(int(key))),
            lambda row: (self.notify(f"Dead letter {row['id']} ({row['event_type']} for {row['subscriber']}) was handled.", title="Retried"), self.reload()),
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry" and not self.console.is_operator:
            return False  # dead letters are the operator's to retry
        return super().check_action(action, parameters)

    def action_threshold(self) -> None:
        later = [t for t in THRESHOLDS_S if t > self.stuck_after_s]
        self.stuck_after_s = float(later[0] if later else THRESHOLDS_S[0])
        self.reload()

    @on(DataTable.RowSelected, "#stuck")
    def _stuck_selected(self, event: DataTable.RowSelected) -> None:
        self.console.open_order(str(event.row_key.value))
