"""The checks of the invariant check, one snapshot at a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .. import counters
from ..lifecycle import OrderStatus
from ..payment.port import GatewayCharge
from .snapshot import OrderFacts, Snapshot

S = OrderStatus

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


class Checker:
    """Checks one snapshot, order by order; ``problems`` collects what is wrong."""

    def __init__(self, handled: Mapping[str, set[str]], snap: Snapshot, gateway: Any, ledger: dict[str, GatewayCharge] | None) -> None:
        self.snap = snap
        self._timelines: dict[str, list[tuple[int, str, str]]] | None = None
        self.gateway = gateway
        self.ledger = ledger
        self.problems: list[Problem] = []
        self.handles = handled
        self.view_rows = snap.fold.rows  # the status view a rebuild of the log would write

    def add(self, order_id: str | None, check: str, message: str) -> None:
        self.problems.append(Problem(order_id, check, message))

    def took_effect(self, subscriber: str, event_id: int) -> bool:
        """The subscriber claims to have applied this event (and did not park it)."""
        return event_id <= self.snap.positions.get(subscriber, 0) and (subscriber, event_id) not in self.snap.parked

    def pending(self, subscriber: str, facts: OrderFacts) -> bool:
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
        for order_id in sorted(set(snap.view) - set(self.view_rows)):
            self.add(order_id, "status-view", "is in the status view but not in a rebuild of the log")
        for order_id, facts in sorted(snap.orders_log.items()):
            self.order(order_id, facts)
            self.payment(order_id, facts)
            self.store_and_delivery(order_id, facts)
            self.status_view(order_id)
            self.notifications(order_id, facts)
        self.counters()
        if self.ledger is not None:
            for key in sorted(set(self.ledger) - set(snap.orders_log)):
                self.add(key, "charge-without-order", f"the payment provider holds a charge ({self.ledger[key].amount}) for an order that does not exist")

    def counters(self) -> None:
        """Every counter equals a recount of the rows it counts (the status view's, the store's tickets)."""
        snap = self.snap
        want = counters.recount_orders((r.customer_id, r.store_id, r.status) for r in snap.view.values())
        want += counters.recount_tickets((r.store_id, r.status) for r in snap.tickets.values())
        for key in sorted(set(want) | set(snap.counts)):
            have = snap.counts.get(key, 0)
            if have != want.get(key, 0):
                scope, of, status = key
                self.add(None, "counter", f"the {scope} counter of {of or 'every order'} says {have:,} {status}, a recount says {want.get(key, 0):,}")

    # -- per order ----------------------------------------------------------------------------------

    def order(self, order_id: str, facts: OrderFacts) -> None:
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

    def payment(self, order_id: str, facts: OrderFacts) -> None:
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

    def _ledger_row(self, order_id: str, need_refund: bool) -> GatewayCharge | None:
        """The provider's record, asked again when the snapshot (read first) may predate it."""
        assert self.ledger is not None
        row = self.ledger.get(order_id)
        if (row is None or (need_refund and not row.refund_id)) and self.gateway is not None:
            return self.gateway.lookup(order_id)
        return row

    def store_and_delivery(self, order_id: str, facts: OrderFacts) -> None:
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
                else self._handed_over(facts) or "READY" if facts.types["CookingFinished"] else "COOKING" if facts.types["CookingStarted"] else "NEW"
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

    def _handed_over(self, facts: OrderFacts) -> str | None:
        """DONE or PICKED_UP once the store has followed the delivery's events (None before)."""
        for event_type, status in (("DeliveryCompleted", "DONE"), ("DeliveryPickedUp", "PICKED_UP")):
            ids = facts.ids.get(event_type, [])
            if ids and self.took_effect("store", ids[0]):
                return status
        return None

    def status_view(self, order_id: str) -> None:
        expected = self.view_rows.get(order_id)
        row = self.snap.view.get(order_id)
        if expected is None:
            return  # not yet reached by the status subscriber (a row for it is reported by run())
        if row is None:
            self.add(order_id, "status-view", f"is missing from the status view (a rebuild of the log says {expected['status']})")
            return
        for column in ("status", "resume_status", "customer_id", "store_id", "rider_id", "total", "currency", "reason", "last_event_id", "ready_at"):
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

    def notifications(self, order_id: str, facts: OrderFacts) -> None:
        have = self.snap.customer_notes.get(order_id, [])
        want = [(event_id, status) for event_id, status in facts.changes if self.took_effect("notification", event_id)]
        if have != want:
            self.add(
                order_id, "notifications",
                f"the customer got {len(have)} notification(s) for {len(want)} status change(s); first difference: {_first_difference(have, want)}",
            )
        sent = facts.types["NotificationSent"]
        alerts = [event_id for event_id in facts.ids.get("PickupOverdue", []) if self.took_effect("notification", event_id)]
        if sent != len({event_id for event_id, _ in have}) + len(alerts):
            self.add(
                order_id, "notifications",
                f"NotificationSent was recorded {sent} times for {len(have)} notified status change(s) and {len(alerts)} alert(s)",
            )


def _first_difference(have: list[Any], want: list[Any]) -> str:
    for i, (a, b) in enumerate(zip(have, want)):
        if a != b:
            return f"#{i + 1}: {a} where {b} was expected"
    if len(have) > len(want):
        return f"extra {have[len(want)]}"
    if len(want) > len(have):
        return f"missing {want[len(have)]}"
    return "none"
