"""The raw baseline: the rows the engine writes for a lifecycle, written by hand with the bare driver
(sqlite3 or psycopg), one transaction per event.

The replay takes the engine's own event stream (from a database a real ``simulate`` run wrote) and,
for each event in id order, commits one transaction that writes what the engine writes for it:

* the event row itself (same columns, same JSON payload);
* the aggregate change that produced it (orders / order_lines / order_numbers, payments,
  store_orders, deliveries, notification_orders, notifications);
* the status view's row update and timeline row for it;
* the gateway ledger's charge or refund, in its own transaction on the gateway's own database,
  as the simulated gateway does;
* tracking-position updates at the rate the engine was measured to make them.

With ``events_only`` it writes just the event row per transaction: the lightest possible baseline,
shown for reference. It reads nothing back (no version checks, no locks, no saga lookups): it is the floor cost of the
same write volume. ``counts`` records every statement (per operation and table, and rows written),
so the benchmark can print the raw volume next to the engine's measured one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

# Events the notification context reacts to (it keeps notification_orders in step for each).
NOTIFIED = {
    "OrderPlaced", "PaymentApproved", "OrderRejected", "CookingStarted", "CookingFinished", "DeliveryPickedUp",
    "DeliveryCompleted", "DeliveryConfirmed", "OrderCancellationRequested", "OrderCancelled", "CancellationRefused",
}
# Events after which the ordering context changes the orders row in the same transaction as the event.
ORDER_UPDATED_BY = {
    "PaymentApproved", "OrderRejected", "CookingStarted", "CookingFinished", "DeliveryPickedUp", "DeliveryCompleted",
    "DeliveryConfirmed", "OrderCancellationRequested", "OrderCancelled", "CancellationRefused", "StoreOrderRejected",
}
# Events the store context's ticket update produces, with the ticket status it leaves.
STORE_ORDER_UPDATED_BY = {
    "CookingStarted": "COOKING", "CookingFinished": "READY", "StoreOrderCancelled": "CANCELLED",
    "StoreOrderRejected": "REJECTED", "CancellationRefused": "COOKING",
}
DELIVERY_UPDATED_BY = {"DeliveryPickedUp", "DeliveryCompleted"}
REASON_OF = {"OrderRejected", "OrderCancelled", "CancellationRefused", "StoreOrderRejected"}
SUBSCRIBERS = ("ordering", "payment", "store", "delivery", "status", "notification")


class RawWriter:
    """Writes one event's rows per transaction on a bare DB-API connection (sqlite3 or psycopg)."""

    def __init__(self, conn: Any, gateway_conn: Any, dialect: str, tracking_every: int = 0, events_only: bool = False) -> None:
        self.conn = conn
        self.events_only = events_only
        self.gw = gateway_conn
        self.pg = dialect == "postgresql"
        self.cur = conn.cursor()
        self.gw_cur = gateway_conn.cursor()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.transactions = 0
        self.tracking_every = tracking_every
        self._since_tracking = 0
        self._tracking_turn = 0
        ph = "%s" if self.pg else "?"
        q = lambda sql: sql.replace("?", ph)  # noqa: E731
        ret = " RETURNING id" if self.pg else ""
        self.sql = {
            "event": q("INSERT INTO events (event_type, schema_version, order_id, actor, context, occurred_at, payload) VALUES (?, 1, ?, ?, ?, ?, ?)" + ret),
            "order_number": "UPDATE order_numbers SET last = last + 1 WHERE name = 'order' RETURNING last",
            "order": q(
                "INSERT INTO orders (id, customer_id, store_id, address, total, currency, status, resume_status, reason, placed_at, updated_at, version, idempotency_key)"
                " VALUES (?, ?, ?, ?, ?, ?, 'PENDING_PAYMENT', NULL, NULL, ?, ?, 1, ?)"
            ),
            "order_line": q("INSERT INTO order_lines (order_id, line_no, menu_item_id, name, unit_price, quantity) VALUES (?, ?, ?, ?, ?, ?)"),
            "order_update": q("UPDATE orders SET status = ?, resume_status = NULL, reason = ?, updated_at = ?, version = version + 1 WHERE id = ?"),
            "payment": q(
                "INSERT INTO payments (order_id, amount, status, charge_id, refund_id, card_suffix, reason, created_at, refunded_at)"
                " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, NULL)"
            ),
            "payment_refund": q("UPDATE payments SET status = 'REFUNDED', refund_id = ?, refunded_at = ? WHERE order_id = ?"),
            "store_order": q(
                "INSERT INTO store_orders (order_id, store_id, status, items, total, address, reason, received_at, updated_at, version)"
                " VALUES (?, ?, 'NEW', ?, ?, ?, NULL, ?, ?, 1)"
            ),
            "store_order_update": q("UPDATE store_orders SET status = ?, reason = ?, updated_at = ?, version = version + 1 WHERE order_id = ?"),
            "delivery": q(
                "INSERT INTO deliveries (order_id, store_id, address, status, rider_id, requested_at, picked_up_at, completed_at, version)"
                " VALUES (?, ?, ?, 'AVAILABLE', NULL, ?, NULL, NULL, 1)"
            ),
            "delivery_update": q("UPDATE deliveries SET status = ?, rider_id = ?, picked_up_at = ?, version = version + 1 WHERE order_id = ?"),
            "status_insert": q(
                "INSERT INTO order_status (order_id, customer_id, store_id, rider_id, status, resume_status, total, currency, reason, placed_at, updated_at, last_event_id)"
                " VALUES (?, ?, ?, NULL, 'PENDING_PAYMENT', NULL, ?, ?, NULL, ?, ?, ?)"
            ),
            "status_update": q("UPDATE order_status SET status = ?, resume_status = NULL, rider_id = COALESCE(?, rider_id), reason = COALESCE(?, reason), updated_at = ?, last_event_id = ? WHERE order_id = ?"),
            "timeline": q("INSERT INTO order_timeline (event_id, order_id, event_type, status, actor, at) VALUES (?, ?, ?, ?, ?, ?)"),
            "notif_order": q("INSERT INTO notification_orders (order_id, customer_id, store_id, rider_id, status, resume_status) VALUES (?, ?, ?, NULL, ?, NULL)"),
            "notif_order_update": q("UPDATE notification_orders SET status = ?, resume_status = NULL, rider_id = COALESCE(?, rider_id) WHERE order_id = ?"),
            "notification": q(
                "INSERT INTO notifications (order_id, event_id, recipient_type, recipient_id, status, channel, message, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'app', ?, ?)"
            ),
            "tracking": q("UPDATE tracking SET position = ?, updated_at = ? WHERE subscriber = ?"),
            "gw_charge": q("INSERT INTO gateway_ledger (idempotency_key, charge_id, amount, card_suffix, charged_at, refund_id, refunded_at) VALUES (?, ?, ?, ?, ?, NULL, NULL)"),
            "gw_refund": q("UPDATE gateway_ledger SET refund_id = ?, refunded_at = ? WHERE idempotency_key = ?"),
        }
        self.placed: dict[str, dict[str, Any]] = {}

    # -- driver plumbing --------------------------------------------------------------------------

    def _now(self) -> Any:
        now = datetime.now(UTC).replace(tzinfo=None)
        return now if self.pg else now.strftime("%Y-%m-%d %H:%M:%S.%f")

    def _x(self, key: str, table: str, op: str, params: Any, cur: Any = None) -> Any:
        (cur or self.cur).execute(self.sql[key], params)
        self.counts[(op, table)] += 1
        return cur or self.cur

    def _begin(self, conn: Any, cur: Any) -> None:
        if not self.pg:
            cur.execute("BEGIN IMMEDIATE")

    def _commit(self, conn: Any) -> None:
        if self.pg:
            conn.commit()
        else:
            conn.execute("COMMIT")
        self.transactions += 1

    # -- one event ----------------------------------------------------------------------------------

    def apply(self, event_type: str, order_id: str, actor: str, context: str, payload: dict[str, Any], status: str | None) -> None:
        """Commit the transaction for one event (preceded by the gateway's own, for a charge or refund)."""
        now = self._now()
        if self.events_only:  # the lightest baseline: the event row alone
            self._begin(self.conn, self.cur)
            self._x("event", "events", "insert", (event_type, order_id, actor, context, now, json.dumps(payload)))
            self._commit(self.conn)
            return
        if event_type == "PaymentApproved":
            self._begin(self.gw, self.gw_cur)
            self._x("gw_charge", "gateway_ledger", "insert", (order_id, payload.get("charge_id") or f"ch_{order_id}", payload["amount"], payload.get("card_suffix", "4242"), now), self.gw_cur)
            self._commit(self.gw)
        elif event_type == "PaymentRefunded":
            self._begin(self.gw, self.gw_cur)
            self._x("gw_refund", "gateway_ledger", "update", (payload.get("refund_id") or f"re_{order_id}", now, order_id), self.gw_cur)
            self._commit(self.gw)

        self._begin(self.conn, self.cur)
        x = self._x
        placed = self.placed.get(order_id)
        if event_type == "OrderPlaced":
            x("order_number", "order_numbers", "update", ()).fetchone()
            placed = self.placed[order_id] = payload
            x("order", "orders", "insert", (order_id, payload["customer_id"], payload["store_id"], payload["address"], payload["total"], payload["currency"], now, now, f"raw-{order_id}"))
            for n, line in enumerate(payload["lines"], start=1):
                x("order_line", "order_lines", "insert", (order_id, n, line["menu_item_id"], line["name"], line["unit_price"], line["quantity"]))
        elif event_type in ("PaymentApproved", "PaymentDeclined"):
            approved = event_type == "PaymentApproved"
            x("payment", "payments", "insert", (order_id, payload["amount"], "APPROVED" if approved else "DECLINED", payload.get("charge_id"), payload.get("card_suffix", "4242"), payload.get("reason"), now))
        elif event_type == "PaymentRefunded":
            x("payment_refund", "payments", "update", (payload.get("refund_id"), now, order_id))
        elif event_type == "StoreOrderReceived":
            x("store_order", "store_orders", "insert", (order_id, placed["store_id"], json.dumps(placed["lines"]), placed["total"], placed["address"], now, now))
        elif event_type == "DeliveryRequested":
            x("delivery", "deliveries", "insert", (order_id, placed["store_id"], placed["address"], now))
        if event_type in STORE_ORDER_UPDATED_BY:
            x("store_order_update", "store_orders", "update", (STORE_ORDER_UPDATED_BY[event_type], payload.get("reason"), now, order_id))
        if event_type in DELIVERY_UPDATED_BY:
            x("delivery_update", "deliveries", "update", ("PICKED_UP" if event_type == "DeliveryPickedUp" else "COMPLETED", payload.get("rider_id"), now, order_id))
        if event_type in ORDER_UPDATED_BY:
            x("order_update", "orders", "update", (status or event_type, payload.get("reason"), now, order_id))

        cur = x("event", "events", "insert", (event_type, order_id, actor, context, now, json.dumps(payload)))
        event_id = cur.fetchone()[0] if self.pg else cur.lastrowid

        if event_type == "NotificationSent":
            for recipient in payload.get("recipients", []):
                kind, _, who = recipient.partition(":")
                x("notification", "notifications", "insert", (order_id, event_id, kind, who, payload["status"], payload["message"], now))
        else:  # the status view: its row and a timeline entry for every other event
            if event_type == "OrderPlaced":
                x("status_insert", "order_status", "insert", (order_id, placed["customer_id"], placed["store_id"], placed["total"], placed["currency"], now, now, event_id))
            else:
                reason = payload.get("reason") if event_type in REASON_OF else None
                x("status_update", "order_status", "update", (status, payload.get("rider_id"), reason, now, event_id, order_id))
            x("timeline", "order_timeline", "insert", (event_id, order_id, event_type, status, actor, now))
        if event_type in NOTIFIED:
            if event_type == "OrderPlaced":
                x("notif_order", "notification_orders", "insert", (order_id, placed["customer_id"], placed["store_id"], status))
            else:
                x("notif_order_update", "notification_orders", "update", (status, payload.get("rider_id"), order_id))
        if self.tracking_every:
            self._since_tracking += 1
            if self._since_tracking >= self.tracking_every:
                self._since_tracking = 0
                subscriber = SUBSCRIBERS[self._tracking_turn % len(SUBSCRIBERS)]
                self._tracking_turn += 1
                x("tracking", "tracking", "update", (event_id, now, subscriber))
        self._commit(self.conn)


def replay(writer: RawWriter, events: Iterable[tuple[str, str, str, str, Any, str | None]], on_event: Callable[[], None] | None = None) -> int:
    """Replay (event_type, order_id, actor, context, payload, status_after) tuples; returns events written."""
    n = 0
    for event_type, order_id, actor, context, payload, status in events:
        if isinstance(payload, str):
            payload = json.loads(payload)
        writer.apply(event_type, order_id, actor, context, payload, status)
        n += 1
    return n


# -- reading the engine's event stream ----------------------------------------------------------------

EVENT_STREAM_SQL = (
    "SELECT e.event_type, e.order_id, e.actor, e.context, e.payload, t.status"
    " FROM events e LEFT JOIN order_timeline t ON t.event_id = e.id"
    " WHERE e.order_id IN (SELECT order_id FROM order_status) ORDER BY e.id"
)


def engine_event_stream(conn: Any) -> list[tuple[str, str, str, str, Any, str | None]]:
    """The events of every order in an engine database, oldest first, each with the status it led to.

    NotificationSent has no timeline row; its status is in its payload.
    """
    rows = conn.execute(EVENT_STREAM_SQL).fetchall()
    return [tuple(r) for r in rows]


def prepare_raw_sqlite(main_path: str, gateway_path: str, engine_gateway_path: str) -> tuple[Any, Any]:
    """Open a raw database the engine's migrations created, with the gateway ledger's schema copied."""
    import sqlite3

    conn = sqlite3.connect(main_path, isolation_level=None)
    gw = sqlite3.connect(gateway_path, isolation_level=None)
    for c in (conn, gw):
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")
    src = sqlite3.connect(engine_gateway_path)
    for (sql,) in src.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"):
        gw.execute(sql)
    src.close()
    conn.executemany("INSERT OR IGNORE INTO tracking (subscriber, position, updated_at) VALUES (?, 0, '2000-01-01 00:00:00.000000')", [(s,) for s in SUBSCRIBERS])
    return conn, gw


def table_counts(conn: Any, tables: Iterable[str]) -> dict[str, int]:
    out = {}
    for table in tables:
        cur = conn.execute(f"SELECT count(*) FROM {table}")
        out[table] = cur.fetchone()[0]
    return out


ORDER_TABLES = (
    "orders", "order_lines", "payments", "store_orders", "deliveries", "order_status", "order_timeline",
    "notification_orders", "notifications", "events",
)
