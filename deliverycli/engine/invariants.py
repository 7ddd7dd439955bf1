"""The promises of SPEC §5 and §6, checked against a database: what `deliverycli doctor --check` runs.

The event log is the source of truth. Everything else (each context's tables, the status view,
the notifications and the payment provider's ledger) is checked against it:

- every order placed is in exactly one status, reached by allowed transitions, and the ordering
  context agrees with the log;
- each paid order was charged once, for its total, and no charge exists without its order;
- each order the store cancelled or rejected was refunded exactly once, and nothing else was;
- no order reached the store (or the delivery list) without an approved charge (or cooking);
- no subscriber took effect on any event twice, and none skipped one it claims to have passed;
- the status view equals a rebuild of the log (``rebuild.fold_status``);
- there is exactly one notification (to the customer) per status change.

It is safe to run while other processes work: the database is read in one consistent snapshot
(REPEATABLE READ on PostgreSQL), each subscriber is judged only up to the position it has reached,
an event parked as a dead letter is not counted as lost (``doctor`` lists dead letters itself), and
the provider's ledger (a separate database for SQLite) is read first and re-asked about any
mismatch, so a charge in flight is not mistaken for a lost one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import delivery, eventlog, notification, ordering, payment, store
from . import status as status_view
from .events import StoredEvent
from .lifecycle import ALLOWED, FINAL, OrderStatus, follow
from .rebuild import StatusFold
from .unit_of_work import database_errors

if TYPE_CHECKING:
    from .bootstrap import Engine

S = OrderStatus
CHUNK = 5_000

# Event types an order may have at most once.
ONCE = (
    "OrderPlaced", "PaymentApproved", "PaymentDeclined", "OrderRejected", "StoreOrderReceived", "CookingStarted",
    "CookingFinished", "DeliveryRequested", "DeliveryPickedUp", "DeliveryCompleted", "DeliveryConfirmed",
    "StoreOrderCancelled", "StoreOrderRejected", "PaymentRefunded", "OrderCancelled",
)


@dataclass(frozen=True)
class Problem:
    """One broken promise: the order it concerns (None for the database as a whole), a short code, and what is wrong."""

    order_id: str | None
    check: str
    message: str

    def __str__(self) -> str:
        return f"order {self.order_id}: {self.message}" if self.order_id else self.message

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"id": f"{self.check}:{self.order_id or '-'}"}


@dataclass
class CheckResult:
    problems: list[Problem]
    orders: int = 0
    events: int = 0
    positions: dict[str, int] = field(default_factory=dict)
    ledger: str = "not checked"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
            "orders": self.orders,
            "events": self.events,
            "positions": self.positions,
            "ledger": self.ledger,
            "problems": [p.as_dict() for p in self.problems],
            "offending_orders": sorted({p.order_id for p in self.problems if p.order_id}),
        }


@dataclass
class _Order:
    """What the log says about one order."""

    types: Counter[str] = field(default_factory=Counter)
    ids: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    placed: dict[str, Any] | None = None
    status: OrderStatus | None = None
    resume: OrderStatus | None = None
    changes: list[tuple[int, str]] = field(default_factory=list)  # (event id, new status) of each status change
    illegal: list[str] = field(default_factory=list)
    rider: str | None = None
    approved_amount: int | None = None
    refunded_amount: int | None = None


def check(engine: Engine) -> list[Problem]:
    """Every broken promise found, each naming its order and what is wrong; empty when all hold."""
    return run(engine).problems


def run(engine: Engine) -> CheckResult:
    with database_errors():
        gateway = _simulated_gateway(engine)
        separate_ledger = gateway is not None and gateway.engine is not engine.db
        ledger = _read_ledger(gateway.engine) if separate_ledger else None  # first: see the module docstring
        with engine.db.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.execution_options(readonly=True).begin():
                snap = _Snapshot.read(conn, engine)
                if gateway is not None and not separate_ledger:
                    ledger = _read_ledger_in(conn)
        checker = _Checker(engine, snap, gateway, ledger)
        checker.run()
    return CheckResult(
        checker.problems,
        orders=len(snap.orders_log),
        events=snap.events,
        positions=snap.positions,
        ledger="checked" if gateway is not None else "not checked (not the simulated gateway)",
    )


# -- reading ----------------------------------------------------------------------------------------


def _simulated_gateway(engine: Engine) -> payment.SimulatedGateway | None:
    """The simulated provider behind the payment port, if that is what it is (tests may wrap it)."""
    for candidate in (engine.payments.gateway, engine.gateway):
        for _ in range(4):
            if isinstance(candidate, payment.SimulatedGateway):
                return candidate
            candidate = getattr(candidate, "inner", None)
            if candidate is None:
                break
    return None


def _read_ledger(db: sa.Engine) -> dict[str, sa.Row]:
    with db.connect() as conn, conn.execution_options(readonly=True).begin():
        return _read_ledger_in(conn)


def _read_ledger_in(conn: sa.Connection) -> dict[str, sa.Row]:
    if not sa.inspect(conn).has_table(payment.gateway_ledger.name):
        return {}  # created on the first charge: nothing was ever charged
    return {row.idempotency_key: row for row in conn.execute(sa.select(payment.gateway_ledger))}


@dataclass
class _Snapshot:
    orders_log: dict[str, _Order]
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

    @classmethod
    def read(cls, conn: sa.Connection, engine: Engine) -> _Snapshot:
        positions = eventlog.positions(conn)
        dl = eventlog.dead_letters
        parked = {(r.subscriber, r.event_id) for r in conn.execute(sa.select(dl.c.subscriber, dl.c.event_id).where(dl.c.resolved_at.is_(None)))}
        status_position = positions.get("status", 0)
        orders_log: dict[str, _Order] = {}
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
        t = status_view.order_timeline
        for r in conn.execute(sa.select(t.c.event_id, t.c.order_id, t.c.event_type, t.c.status).order_by(t.c.event_id)):
            timeline[r.order_id].append((r.event_id, r.event_type, r.status))
        notes: dict[str, list[tuple[int, str]]] = defaultdict(list)
        n = notification.notifications
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
            orders=keyed(ordering.orders, "id"),
            payments=keyed(payment.payments, "order_id"),
            tickets=keyed(store.store_orders, "order_id"),
            deliveries=keyed(delivery.deliveries, "order_id"),
            view=keyed(status_view.order_status, "order_id"),
            timeline=dict(timeline),
            customer_notes=dict(notes),
        )


def _follow_log(orders: dict[str, _Order], orphans: dict[str, list[int]], event: StoredEvent) -> None:
    if event.event_type == "OrderPlaced" and event.order_id not in orders:
        facts = orders[event.order_id] = _Order(placed=event.payload)
        facts.status = S.PENDING_PAYMENT
        facts.changes.append((event.id, S.PENDING_PAYMENT.value))
        facts.types["OrderPlaced"] += 1
        facts.ids["OrderPlaced"].append(event.id)
        return
    facts = orders.get(event.order_id)
    if facts is None:
        orphans[event.order_id].append(event.id)
        return
    facts.types[event.event_type] += 1
    facts.ids[event.event_type].append(event.id)
    if event.event_type == "DeliveryPickedUp":
        facts.rider = event.payload.get("rider_id")
    elif event.event_type == "PaymentApproved":
        facts.approved_amount = event.payload.get("amount")
    elif event.event_type == "PaymentRefunded":
        facts.refunded_amount = event.payload.get("amount")
    if event.event_type == "NotificationSent":
        return
    before = facts.status
    facts.status, facts.resume = follow(facts.status, facts.resume, event.event_type)
    if facts.status != before:
        if before is not None and not _allowed(before, facts.status):
            facts.illegal.append(f"{before.value} -> {facts.status.value} on {event.event_type} (event {event.id})")
        facts.changes.append((event.id, facts.status.value))


def _allowed(before: OrderStatus, after: OrderStatus) -> bool:
    """SPEC §5 as the log shows it. A cancellation request may follow any non-final status: the
    ordering context asks on what it knows (PAID) while the store, the authority, may already have
    started cooking; the store then refuses and the order goes back (COOKING -> CANCEL_PENDING ->
    COOKING). What must never happen, a cancellation after cooking started, is checked separately."""
    return after in ALLOWED[before] or (after is S.CANCEL_PENDING and before not in FINAL)


# -- checking ---------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, engine: Engine, snap: _Snapshot, gateway: payment.SimulatedGateway | None, ledger: dict[str, sa.Row] | None) -> None:
        self.snap = snap
        self._timelines: dict[str, list[tuple[int, str, str]]] | None = None
        self.gateway = gateway
        self.ledger = ledger
        self.problems: list[Problem] = []
        self.handles = {s.name: set(s.handlers) for s in engine.bus.subscribers}

    def add(self, order_id: str | None, check: str, message: str) -> None:
        self.problems.append(Problem(order_id, check, message))

    def took_effect(self, subscriber: str, event_id: int) -> bool:
        """The subscriber claims to have applied this event (and did not park it)."""
        return event_id <= self.snap.positions.get(subscriber, 0) and (subscriber, event_id) not in self.snap.parked

    def pending(self, subscriber: str, facts: _Order) -> bool:
        """The subscriber has events of this order still to apply (or parked)."""
        position = self.snap.positions.get(subscriber, 0)
        return any(
            event_id > position or (subscriber, event_id) in self.snap.parked
            for event_type in self.handles.get(subscriber, ())
            for event_id in facts.ids.get(event_type, ())
        )

    def run(self) -> None:
        snap = self.snap
        for subscriber, position in sorted(snap.positions.items()):
            if position > snap.head:
                self.add(None, "position", f"subscriber {subscriber} is at event {position}, beyond the newest event {snap.head}")
        for order_id, ids in sorted(snap.orphans.items()):
            self.add(order_id, "orphan-events", f"{len(ids)} event(s) (first: {ids[0]}) for an order that was never placed")
        for order_id in sorted(set(snap.orders) - set(snap.orders_log)):
            self.add(order_id, "order-without-event", "is in the orders table but was never placed in the event log")
        for order_id in sorted(set(snap.view) - set(snap.fold.rows)):
            self.add(order_id, "status-view", "is in the status view but not in a rebuild of the log")
        for order_id, facts in sorted(snap.orders_log.items()):
            self.order(order_id, facts)
            self.payment(order_id, facts)
            self.store_and_delivery(order_id, facts)
            self.status_view(order_id)
            self.notifications(order_id, facts)
        if self.ledger is not None:
            for key in sorted(set(self.ledger) - set(snap.orders_log)):
                self.add(key, "charge-without-order", f"the payment provider holds a charge ({self.ledger[key].amount}) for an order that does not exist")

    # -- per order ----------------------------------------------------------------------------------

    def order(self, order_id: str, facts: _Order) -> None:
        for event_type in ONCE:
            if facts.types[event_type] > 1:
                self.add(order_id, "duplicate-event", f"{event_type} was recorded {facts.types[event_type]} times (events {facts.ids[event_type]}); at most once is allowed")
        if facts.types["StoreOrderCancelled"] and facts.types["CookingStarted"]:
            self.add(order_id, "cancelled-after-cooking", "was cancelled although the store had started cooking it")
        if facts.types["PaymentApproved"] and facts.types["PaymentDeclined"]:
            self.add(order_id, "payment-twice", "its payment was both approved and declined")
        for illegal in facts.illegal:
            self.add(order_id, "illegal-transition", f"status moved {illegal}, which SPEC §5 does not allow")
        row = self.snap.orders.get(order_id)
        if row is None:
            self.add(order_id, "order-missing", "was placed in the event log but is missing from the orders table")
            return
        placed = facts.placed or {}
        if (row.customer_id, row.store_id, row.total) != (placed.get("customer_id"), placed.get("store_id"), placed.get("total")):
            self.add(order_id, "order-mismatch", f"orders table says {row.customer_id}/{row.store_id}/{row.total}, OrderPlaced says {placed.get('customer_id')}/{placed.get('store_id')}/{placed.get('total')}")
        if row.status not in {s.value for s in S}:
            self.add(order_id, "order-status", f"is in an unknown status {row.status!r}")
        elif not self.pending("ordering", facts) and facts.status is not None and row.status != facts.status.value:
            self.add(order_id, "order-status", f"the ordering context says {row.status} but the event log says {facts.status.value}")

    def payment(self, order_id: str, facts: _Order) -> None:
        total = (facts.placed or {}).get("total")
        approved, declined, refunded = facts.types["PaymentApproved"], facts.types["PaymentDeclined"], facts.types["PaymentRefunded"]
        row = self.snap.payments.get(order_id)
        if approved or declined:
            if row is None:
                self.add(order_id, "payment-missing", "its payment was decided in the log but there is no payment record")
            else:
                expected = "REFUNDED" if refunded else "APPROVED" if approved else "DECLINED"
                if row.status != expected:
                    self.add(order_id, "payment-status", f"payment record is {row.status}, the log says {expected}")
                if row.amount != total:
                    self.add(order_id, "payment-amount", f"payment of {row.amount} for an order totalling {total}")
        elif row is not None:
            self.add(order_id, "payment-without-event", f"has a payment record ({row.status}) but no PaymentApproved or PaymentDeclined event")
        if approved and facts.approved_amount != total:
            self.add(order_id, "charge-amount", f"was charged {facts.approved_amount} for a total of {total}")
        store_decisions = facts.ids.get("StoreOrderCancelled", []) + facts.ids.get("StoreOrderRejected", [])
        if refunded and not store_decisions:
            self.add(order_id, "refund-unexpected", "was refunded although the store neither cancelled nor rejected it")
        if refunded and facts.refunded_amount != facts.approved_amount:
            self.add(order_id, "refund-amount", f"refunded {facts.refunded_amount} of a charge of {facts.approved_amount}")
        if approved and not refunded and any(self.took_effect("payment", e) for e in store_decisions):
            self.add(order_id, "refund-missing", "the store cancelled or rejected it but it was never refunded")
        if facts.types["OrderCancelled"] and not refunded:
            self.add(order_id, "cancel-without-refund", "was cancelled without a refund")
        if self.ledger is None:
            return
        charge = self._ledger_row(order_id, need_refund=bool(refunded)) if (approved or order_id in self.ledger) else None
        if approved:
            if charge is None:
                self.add(order_id, "charge-missing", "its payment was approved but the payment provider has no charge for it")
            elif charge.amount != total:
                self.add(order_id, "charge-amount", f"the provider charged {charge.amount} for a total of {total}")
            elif refunded and not charge.refund_id:
                self.add(order_id, "refund-not-at-provider", "was refunded in our records but not at the payment provider")
            elif charge.refund_id and not refunded and facts.status is not S.REJECTED and not self.pending("payment", facts):
                self.add(order_id, "refund-unrecorded", "was refunded at the payment provider but our records do not say so")
        elif charge is not None and facts.status is not S.PENDING_PAYMENT and not charge.refund_id:
            self.add(order_id, "charge-without-approval", f"the payment provider charged {charge.amount} but the order is {facts.status.value} and the charge was not given back")

    def _ledger_row(self, order_id: str, need_refund: bool) -> Any:
        """The provider's record, asked again when the snapshot (read first) may predate it."""
        assert self.ledger is not None
        row = self.ledger.get(order_id)
        if (row is None or (need_refund and not row.refund_id)) and self.gateway is not None:
            return self.gateway.lookup(order_id)
        return row

    def store_and_delivery(self, order_id: str, facts: _Order) -> None:
        approved = facts.ids.get("PaymentApproved", [])
        ticket = self.snap.tickets.get(order_id)
        received = facts.types["StoreOrderReceived"]
        if (ticket is not None or received) and not approved:
            self.add(order_id, "store-without-payment", "reached the store without an approved charge")
        if received and ticket is None:
            self.add(order_id, "ticket-missing", "StoreOrderReceived was recorded but the store has no ticket for it")
        if ticket is not None and not received:
            self.add(order_id, "ticket-without-event", "the store has a ticket for it but StoreOrderReceived was never recorded")
        if approved and not received and self.took_effect("store", approved[0]):
            self.add(order_id, "ticket-lost", "its payment was approved and the store subscriber passed it, but the store never received it")
        if ticket is not None:
            expected = (
                "CANCELLED" if facts.types["StoreOrderCancelled"] else "REJECTED" if facts.types["StoreOrderRejected"]
                else "READY" if facts.types["CookingFinished"] else "COOKING" if facts.types["CookingStarted"] else "NEW"
            )
            if ticket.status != expected:
                self.add(order_id, "ticket-status", f"the store's ticket is {ticket.status}, the log says {expected}")
            if ticket.store_id != (facts.placed or {}).get("store_id"):
                self.add(order_id, "ticket-store", f"is on the list of store {ticket.store_id}, but was ordered from {(facts.placed or {}).get('store_id')}")
        finished = facts.ids.get("CookingFinished", [])
        ride = self.snap.deliveries.get(order_id)
        requested = facts.types["DeliveryRequested"]
        if (ride is not None or requested) and not finished:
            self.add(order_id, "delivery-before-cooked", "is on the delivery list but its cooking never finished")
        if requested and ride is None:
            self.add(order_id, "delivery-missing", "DeliveryRequested was recorded but there is no delivery for it")
        if ride is not None and not requested:
            self.add(order_id, "delivery-without-event", "has a delivery but DeliveryRequested was never recorded")
        if finished and not requested and self.took_effect("delivery", finished[0]):
            self.add(order_id, "delivery-lost", "its cooking finished and the delivery subscriber passed it, but it never reached the delivery list")
        if ride is not None:
            expected = "COMPLETED" if facts.types["DeliveryCompleted"] else "PICKED_UP" if facts.types["DeliveryPickedUp"] else "AVAILABLE"
            if ride.status != expected or ride.rider_id != facts.rider:
                self.add(order_id, "delivery-state", f"the delivery is {ride.status} with rider {ride.rider_id}, the log says {expected} with rider {facts.rider}")

    def status_view(self, order_id: str) -> None:
        fold = self.snap.fold
        expected = fold.rows.get(order_id)
        row = self.snap.view.get(order_id)
        if expected is None:
            return  # not yet reached by the status subscriber (a row for it is reported by run())
        if row is None:
            self.add(order_id, "status-view", f"is missing from the status view (a rebuild of the log says {expected['status']})")
            return
        for column in ("status", "resume_status", "customer_id", "store_id", "rider_id", "total", "currency", "reason", "last_event_id"):
            if getattr(row, column) != expected[column]:
                self.add(order_id, "status-view", f"status view has {column}={getattr(row, column)!r}, a rebuild of the log has {expected[column]!r}")
                return
        want = self._timeline_of(order_id)
        have = self.snap.timeline.get(order_id, [])
        if have != want:
            self.add(order_id, "status-timeline", f"status timeline has {len(have)} entries, a rebuild of the log has {len(want)}; first difference: {_first_difference(have, want)}")

    def _timeline_of(self, order_id: str) -> list[tuple[int, str, str]]:
        if self._timelines is None:
            grouped: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
            for event_id in sorted(self.snap.fold.timeline):
                e = self.snap.fold.timeline[event_id]
                grouped[e["order_id"]].append((event_id, e["event_type"], e["status"]))
            self._timelines = grouped
        return self._timelines.get(order_id, [])

    def notifications(self, order_id: str, facts: _Order) -> None:
        have = self.snap.customer_notes.get(order_id, [])
        want = [(event_id, status) for event_id, status in facts.changes if self.took_effect("notification", event_id)]
        if have != want:
            self.add(
                order_id, "notifications",
                f"the customer got {len(have)} notification(s) for {len(want)} status change(s); first difference: {_first_difference(have, want)}",
            )
        sent = facts.types["NotificationSent"]
        if sent != len({event_id for event_id, _ in have}):
            self.add(order_id, "notifications", f"NotificationSent was recorded {sent} times for {len(have)} notified status change(s)")


def _first_difference(have: list[Any], want: list[Any]) -> str:
    for i, (a, b) in enumerate(zip(have, want)):
        if a != b:
            return f"#{i + 1}: {a} where {b} was expected"
    if len(have) > len(want):
        return f"extra {have[len(want)]}"
    if len(want) > len(have):
        return f"missing {want[len(have)]}"
    return "none"
