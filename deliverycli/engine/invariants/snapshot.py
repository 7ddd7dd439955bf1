"""Reading the database for the invariant check: the provider's ledger, then one snapshot of ours."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from .. import counters, eventlog
from ..delivery import deliveries
from ..events import StoredEvent
from ..lifecycle import ALLOWED, FINAL, OrderState, OrderStatus
from ..notification import NOTICES, notifications
from ..ordering.repository import orders
from ..payment.port import GatewayCharge, GatewayUnavailable
from ..payment.records import payments
from ..rebuild import StatusFold
from ..status import order_status, order_timeline
from ..store import store_orders

S = OrderStatus
CHUNK = 5_000


def ledger_of(gateway: Any) -> tuple[dict[str, GatewayCharge] | None, str]:
    """The provider's charges by key and "checked", or None and why they cannot be had."""
    charges = getattr(gateway, "charges", None)
    if not callable(charges):
        return None, "not checked (the payment provider does not list its charges)"
    try:
        return charges(), "checked"
    except GatewayUnavailable as exc:
        return None, f"not checked (the payment provider could not list its charges: {exc})"


@dataclass
class OrderFacts:
    """What the log says about one order."""

    types: Counter[str] = field(default_factory=Counter)
    ids: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    placed: dict[str, Any] | None = None
    state: OrderState | None = None
    changes: list[tuple[int, str]] = field(default_factory=list)  # (event id, new status) of each status change or notice
    illegal: list[str] = field(default_factory=list)
    approved_amount: int | None = None
    refunded_amount: int | None = None

    @property
    def status(self) -> OrderStatus | None:
        return self.state.status if self.state else None

    @property
    def rider(self) -> str | None:
        return self.state.rider_id if self.state else None


@dataclass
class Snapshot:
    """The database as one consistent read: the log folded per order, and every context's tables."""

    orders_log: dict[str, OrderFacts]
    orphans: dict[str, list[int]]
    fold: StatusFold
    events: int
    head: int
    positions: dict[str, int]
    parked: set[tuple[str, int]]
    orders: dict[str, sa.Row]
    payments: dict[str, sa.Row]
    tickets: dict[str, sa.Row]
    deliveries: dict[str, sa.Row]
    view: dict[str, sa.Row]
    timeline: dict[str, list[tuple[int, str, str]]]
    customer_notes: dict[str, list[tuple[int, str]]]
    counts: dict[counters.Key, int]  # every non-zero counter (status_counts)

    @classmethod
    def read(cls, conn: sa.Connection) -> Snapshot:
        positions = eventlog.positions(conn)
        dl = eventlog.dead_letters
        parked = {(r.subscriber, r.event_id) for r in conn.execute(sa.select(dl.c.subscriber, dl.c.event_id).where(dl.c.resolved_at.is_(None)))}
        status_position = positions.get("status", 0)
        orders_log: dict[str, OrderFacts] = {}
        orphans: dict[str, list[int]] = defaultdict(list)
        fold = StatusFold()
        count = 0
        head = 0
        after = 0
        while True:
            chunk = eventlog.read(conn, after, limit=CHUNK)
            if not chunk:
                break
            for event in chunk:
                count += 1
                head = event.id
                _follow_log(orders_log, orphans, event)
                if event.id <= status_position:
                    fold.apply(event)
            after = chunk[-1].id

        def keyed(table: sa.Table, key: str, *where: Any) -> dict[str, sa.Row]:
            return {getattr(r, key): r for r in conn.execute(sa.select(table).where(*where))}

        timeline: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        t = order_timeline
        for r in conn.execute(sa.select(t.c.event_id, t.c.order_id, t.c.event_type, t.c.status).order_by(t.c.event_id)):
            timeline[r.order_id].append((r.event_id, r.event_type, r.status))
        notes: dict[str, list[tuple[int, str]]] = defaultdict(list)
        n = notifications
        for r in conn.execute(sa.select(n.c.order_id, n.c.event_id, n.c.status).where(n.c.recipient_type == "customer").order_by(n.c.event_id)):
            notes[r.order_id].append((r.event_id, r.status))
        return cls(
            orders_log=orders_log,
            orphans=dict(orphans),
            fold=fold,
            events=count,
            head=head,
            positions=positions,
            parked=parked,
            orders=keyed(orders, "id"),
            payments=keyed(payments, "order_id"),
            tickets=keyed(store_orders, "order_id"),
            deliveries=keyed(deliveries, "order_id"),
            view=keyed(order_status, "order_id"),
            timeline=dict(timeline),
            customer_notes=dict(notes),
            counts=counters.stored(conn),
        )


def _follow_log(known: dict[str, OrderFacts], orphans: dict[str, list[int]], event: StoredEvent) -> None:
    facts = known.get(event.order_id)
    if event.event_type == "OrderPlaced" and facts is None:
        facts = known[event.order_id] = OrderFacts(placed=event.payload, state=OrderState.placed(event))
        facts.changes.append((event.id, S.PENDING_PAYMENT.value))
        facts.types["OrderPlaced"] += 1
        facts.ids["OrderPlaced"].append(event.id)
        return
    if facts is None:
        orphans[event.order_id].append(event.id)
        return
    facts.types[event.event_type] += 1
    facts.ids[event.event_type].append(event.id)
    if event.event_type == "PaymentApproved":
        facts.approved_amount = event.payload.get("amount")
    elif event.event_type == "PaymentRefunded":
        facts.refunded_amount = event.payload.get("amount")
    if event.event_type == "NotificationSent" or facts.state is None:
        return
    before = facts.state.status
    if facts.state.apply(event):
        after = facts.state.status
        if not _allowed(before, after):
            facts.illegal.append(f"{before.value} -> {after.value} on {event.event_type} (event {event.id})")
        facts.changes.append((event.id, after.value))
    elif event.event_type in NOTICES:  # told to the customer (and the store) without a status change
        facts.changes.append((event.id, facts.state.status.value))


def _allowed(before: OrderStatus, after: OrderStatus) -> bool:
    """SPEC §5 as the log shows it. A cancellation request may follow any non-final status: the
    ordering context asks on what it knows (PAID) while the store, the authority, may already have
    started cooking; the store then refuses and the order goes back (COOKING -> CANCEL_PENDING ->
    COOKING). What must never happen, a cancellation after cooking started, is checked separately."""
    return after in ALLOWED[before] or (after is S.CANCEL_PENDING and before not in FINAL)

