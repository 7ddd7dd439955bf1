"""Unit tests of every state transition, allowed and refused (no database).

The expected tables are written out here, from SPEC §5, rather than derived from the code under
test, so a change to ``lifecycle.ALLOWED`` or an aggregate shows up as a failing row.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deliverycli.engine import lifecycle
from deliverycli.engine.delivery import Delivery
from deliverycli.engine.lifecycle import DeliveryStatus
from deliverycli.engine.errors import Conflict, IllegalTransition, NotPermitted
from deliverycli.engine.events import EVENT_TYPES, OrderLine
from deliverycli.engine.lifecycle import ALLOWED, CANNOT_CANCEL, FINAL, OrderStatus, follow
from deliverycli.engine.ordering.model import Order
from deliverycli.engine.lifecycle import TicketStatus
from deliverycli.engine.store import TICKET_ALLOWED, StoreOrder

S = OrderStatus
T = TicketStatus
D = DeliveryStatus
ALL_STATUSES = list(OrderStatus)

# SPEC §5, written out independently of lifecycle.ALLOWED.
SPEC_ALLOWED = {
    S.PENDING_PAYMENT: {S.PAID, S.REJECTED},
    S.PAID: {S.COOKING, S.CANCEL_PENDING, S.CANCELLED},
    S.COOKING: {S.READY_FOR_PICKUP},
    S.READY_FOR_PICKUP: {S.DELIVERING},
    S.DELIVERING: {S.DELIVERED},
    S.DELIVERED: {S.CONFIRMED},
    S.CONFIRMED: set(),
    S.REJECTED: set(),
    S.CANCEL_PENDING: {S.CANCELLED, S.PAID, S.COOKING, S.READY_FOR_PICKUP},
    S.CANCELLED: set(),
}


def make_order(status: OrderStatus, resume: OrderStatus | None = None) -> Order:
    line = OrderLine(menu_item_id="margherita", name="Margherita pizza", unit_price=18000, quantity=2)
    return Order(
        id="ord-000042", customer_id="alice", store_id="pizza-palace", address="101 Maple Rd", lines=[line],
        total=36000, currency="KRW", status=status, placed_at=datetime.now(UTC), resume_status=resume,
    )


def assert_refusal_names_state(exc: Conflict, status: OrderStatus | str, allowed: object) -> None:
    message = str(exc)
    assert str(status) in message, message
    allowed = list(allowed)  # type: ignore[call-overload]
    if allowed:
        for target in allowed:
            assert str(target) in message, message
    else:
        assert "final status" in message, message


# -- lifecycle table ------------------------------------------------------------------------------


def test_allowed_table_matches_spec() -> None:
    assert {status: set(targets) for status, targets in ALLOWED.items()} == SPEC_ALLOWED
    assert FINAL == {s for s, targets in SPEC_ALLOWED.items() if not targets}


# -- Order aggregate: mark_paid ---------------------------------------------------------------------

MARK_PAID_OK = {S.PENDING_PAYMENT, S.CANCEL_PENDING}  # CANCEL_PENDING -> PAID is the refusal's way back


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_order_mark_paid(status: OrderStatus) -> None:
    order = make_order(status)
    if status in MARK_PAID_OK:
        order.mark_paid()
        assert order.status is S.PAID
        assert order.events == []  # the payment context records PaymentApproved, not the order
    else:
        with pytest.raises(IllegalTransition) as info:
            order.mark_paid()
        assert order.status is status
        assert info.value.current == status
        assert_refusal_names_state(info.value, status, SPEC_ALLOWED[status])


# -- Order aggregate: reject -------------------------------------------------------------------------


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_order_reject(status: OrderStatus) -> None:
    order = make_order(status)
    if status is S.PENDING_PAYMENT:
        order.reject("payment declined: insufficient funds")
        assert order.status is S.REJECTED
        assert order.reason == "payment declined: insufficient funds"
        assert [e.event_type for e in order.events] == ["OrderRejected"]
        assert order.events[0].reason == "payment declined: insufficient funds"
        assert order.events[0].order_id == order.id
    else:
        with pytest.raises(IllegalTransition) as info:
            order.reject("nope")
        assert order.status is status and order.events == [] and order.reason is None
        assert_refusal_names_state(info.value, status, SPEC_ALLOWED[status])


# -- Order aggregate: request_cancellation ---------------------------------------------------------


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_order_request_cancellation(status: OrderStatus) -> None:
    order = make_order(status)
    if status is S.PAID:
        order.request_cancellation("alice")
        assert order.status is S.CANCEL_PENDING
        assert order.resume_status is S.PAID
        assert [e.event_type for e in order.events] == ["OrderCancellationRequested"]
        assert order.events[0].customer_id == "alice"
    elif status is S.CANCEL_PENDING:
        with pytest.raises(Conflict) as info:
            order.request_cancellation("alice")
        assert not isinstance(info.value, IllegalTransition)
        assert "cancellation pending" in str(info.value)
        assert order.status is S.CANCEL_PENDING and order.events == []
    elif status in (S.COOKING, S.READY_FOR_PICKUP, S.DELIVERING, S.DELIVERED):
        # refused by the order itself, on what it knows: recorded (for the store), said in people's words
        refusal = order.request_cancellation("alice")
        assert isinstance(refusal, IllegalTransition) and refusal.exit_code == 4
        assert order.status is status and order.resume_status is None
        (event,) = order.events
        assert (event.event_type, event.status, event.store_id) == ("OrderCancellationRefused", status.value, "pizza-palace")
        assert event.reason == CANNOT_CANCEL[status] and event.reason in refusal.message
        assert "may go to" not in refusal.message and "can't be cancelled now" in refusal.message
        if status is S.COOKING:
            assert "the store has already started cooking, so it can't be cancelled now" in refusal.message
    else:
        with pytest.raises(IllegalTransition) as info:  # over (or not paid yet): nothing to record
            order.request_cancellation("alice")
        assert order.status is status and order.events == [] and order.resume_status is None
        assert CANNOT_CANCEL[status] in info.value.message and "may go to" not in info.value.message


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_order_request_cancellation_by_another_customer_is_not_permitted(status: OrderStatus) -> None:
    order = make_order(status)
    with pytest.raises(NotPermitted) as info:
        order.request_cancellation("bob")
    assert info.value.exit_code == 5
    assert order.id in str(info.value)
    assert order.status is status and order.events == []


# -- Order aggregate: confirm_delivery ---------------------------------------------------------------


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_order_confirm_delivery(status: OrderStatus) -> None:
    order = make_order(status)
    if status is S.DELIVERED:
        order.confirm_delivery("alice")
        assert order.status is S.CONFIRMED
        assert [e.event_type for e in order.events] == ["DeliveryConfirmed"]
    else:
        with pytest.raises(IllegalTransition) as info:
            order.confirm_delivery("alice")
        assert info.value.exit_code == 4
        assert order.status is status and order.events == []
        assert_refusal_names_state(info.value, status, SPEC_ALLOWED[status])


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_order_confirm_by_another_customer_is_not_permitted(status: OrderStatus) -> None:
    order = make_order(status)
    with pytest.raises(NotPermitted):
        order.confirm_delivery("carol")
    assert order.status is status and order.events == []


# -- Order aggregate: cancel (the end of the saga, after the refund) -------------------------------


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_order_cancel(status: OrderStatus) -> None:
    order = make_order(status, resume=S.PAID if status is S.CANCEL_PENDING else None)
    if status in (S.PAID, S.CANCEL_PENDING):
        order.cancel()
        assert order.status is S.CANCELLED and order.resume_status is None
        assert [e.event_type for e in order.events] == ["OrderCancelled"]
        assert order.events[0].reason == order.reason == "cancelled at the customer's request"
    elif status is S.CANCELLED:
        order.cancel()  # idempotent: a cancelled order is never cancelled (and announced) twice
        assert order.status is S.CANCELLED and order.events == []
    else:
        with pytest.raises(IllegalTransition) as info:
            order.cancel()
        assert order.status is status and order.events == []
        assert_refusal_names_state(info.value, status, SPEC_ALLOWED[status])


def test_order_cancel_keeps_the_store_rejection_reason() -> None:
    order = make_order(S.PAID)
    order.reason = "rejected by the store: out of dough"
    order.cancel()
    assert order.events[0].reason == "rejected by the store: out of dough"


def test_order_place_records_order_placed_with_integer_total() -> None:
    lines = [
        OrderLine(menu_item_id="margherita", name="Margherita", unit_price=18000, quantity=2),
        OrderLine(menu_item_id="cola", name="Cola", unit_price=2000, quantity=3),
    ]
    order = Order.place("ord-000001", "alice", "pizza-palace", "addr", lines, "KRW", datetime.now(UTC))
    assert order.status is S.PENDING_PAYMENT
    assert order.total == 42000 and isinstance(order.total, int)
    (placed,) = order.events
    assert placed.event_type == "OrderPlaced" and placed.total == 42000 and placed.store_id == "pizza-palace"


# -- lifecycle.follow ------------------------------------------------------------------------------

LINE = [
    ("OrderPlaced", S.PENDING_PAYMENT),
    ("PaymentApproved", S.PAID),
    ("CookingStarted", S.COOKING),
    ("CookingFinished", S.READY_FOR_PICKUP),
    ("DeliveryPickedUp", S.DELIVERING),
    ("DeliveryCompleted", S.DELIVERED),
    ("DeliveryConfirmed", S.CONFIRMED),
]
# Events that never change what the customer sees.
SILENT = ["StoreOrderReceived", "DeliveryRequested", "PaymentRefunded", "PaymentDeclined", "StoreOrderCancelled",
          "StoreOrderRejected", "NotificationSent", "PickupOverdue", "OrderCancellationRefused"]  # the last two: no status change


def test_follow_fulfilment_line() -> None:
    status, resume = None, None
    seen = []
    for event_type, expected in LINE:
        status, resume = follow(status, resume, event_type)
        assert (status, resume) == (expected, None), event_type
        seen.append(status)
    assert seen == [S.PENDING_PAYMENT, S.PAID, S.COOKING, S.READY_FOR_PICKUP, S.DELIVERING, S.DELIVERED, S.CONFIRMED]


def test_every_event_type_is_classified() -> None:
    handled = set(lifecycle.STATUS_AFTER_EVENT) | {"CancellationRefused"}
    assert handled | set(SILENT) == set(EVENT_TYPES)
    assert not handled & set(SILENT)


@pytest.mark.parametrize("event_type", SILENT)
@pytest.mark.parametrize("status", ALL_STATUSES)
def test_follow_silent_events_change_nothing(status: OrderStatus, event_type: str) -> None:
    resume = S.COOKING if status is S.CANCEL_PENDING else None
    assert follow(status, resume, event_type) == (status, resume)


def test_follow_payment_declined_then_rejected() -> None:
    assert follow(S.PENDING_PAYMENT, None, "PaymentDeclined") == (S.PENDING_PAYMENT, None)
    assert follow(S.PENDING_PAYMENT, None, "OrderRejected") == (S.REJECTED, None)


def test_follow_cancellation_requested_remembers_where_to_resume() -> None:
    assert follow(S.PAID, None, "OrderCancellationRequested") == (S.CANCEL_PENDING, S.PAID)
    # the ordering aggregate may request while an earlier CookingStarted is still on its way
    assert follow(S.COOKING, None, "OrderCancellationRequested") == (S.CANCEL_PENDING, S.COOKING)


@pytest.mark.parametrize(
    ("event_type", "resume_after"),
    [("CookingStarted", S.COOKING), ("CookingFinished", S.READY_FOR_PICKUP), ("DeliveryPickedUp", S.DELIVERING)],
)
def test_follow_fulfilment_events_during_cancel_pending_only_move_the_resume_status(event_type: str, resume_after: OrderStatus) -> None:
    assert follow(S.CANCEL_PENDING, S.PAID, event_type) == (S.CANCEL_PENDING, resume_after)


@pytest.mark.parametrize("resume", [S.PAID, S.COOKING, S.READY_FOR_PICKUP])
def test_follow_cancellation_refused_restores_the_resume_status(resume: OrderStatus) -> None:
    assert follow(S.CANCEL_PENDING, resume, "CancellationRefused") == (resume, None)


def test_follow_cancellation_refused_without_resume_goes_back_to_paid() -> None:
    assert follow(S.CANCEL_PENDING, None, "CancellationRefused") == (S.PAID, None)


def test_follow_cancel_pending_then_cooking_then_refused() -> None:
    status, resume = follow(S.PAID, None, "OrderCancellationRequested")
    status, resume = follow(status, resume, "CookingStarted")
    assert (status, resume) == (S.CANCEL_PENDING, S.COOKING)
    assert follow(status, resume, "CancellationRefused") == (S.COOKING, None)


@pytest.mark.parametrize("status", [S.PAID, S.CANCEL_PENDING])
def test_follow_order_cancelled(status: OrderStatus) -> None:
    assert follow(status, S.PAID if status is S.CANCEL_PENDING else None, "OrderCancelled") == (S.CANCELLED, None)


@pytest.mark.parametrize("event_type", sorted(set(lifecycle.STATUS_AFTER_EVENT) - {"OrderPlaced"} | {"CancellationRefused"}))
@pytest.mark.parametrize("status", sorted(FINAL))
def test_follow_final_statuses_are_absorbing(status: OrderStatus, event_type: str) -> None:
    """A late event (e.g. CancellationRefused after the store-rejection refund cancelled the order)
    must not bring a final order back to life."""
    assert follow(status, None, event_type) == (status, None)


# -- StoreOrder ------------------------------------------------------------------------------------

SPEC_TICKET = {
    T.NEW: {T.COOKING, T.REJECTED, T.CANCELLED}, T.COOKING: {T.READY},
    T.READY: {T.PICKED_UP}, T.PICKED_UP: {T.DONE}, T.DONE: set(),  # moved on by the delivery's events (issue 10)
    T.CANCELLED: set(), T.REJECTED: set(),
}


def make_ticket(status: TicketStatus) -> StoreOrder:
    return StoreOrder(order_id="ord-000042", store_id="pizza-palace", status=status, version=3)


def test_ticket_table_matches_spec() -> None:
    assert {s: set(t) for s, t in TICKET_ALLOWED.items()} == SPEC_TICKET


def _assert_ticket_refused(exc: Conflict, status: TicketStatus) -> None:
    if status is T.CANCELLED:
        assert "cancelled" in str(exc)
    else:
        assert isinstance(exc, IllegalTransition)
        assert_refusal_names_state(exc, status, SPEC_TICKET[status])


@pytest.mark.parametrize("status", list(TicketStatus))
def test_ticket_accept(status: TicketStatus) -> None:
    ticket = make_ticket(status)
    if status is T.NEW:
        ticket.accept("pizza-palace")
        assert ticket.status is T.COOKING
        assert [(e.event_type, e.store_id) for e in ticket.events] == [("CookingStarted", "pizza-palace")]
    else:
        with pytest.raises(Conflict) as info:
            ticket.accept("pizza-palace")
        assert ticket.status is status and ticket.events == []
        _assert_ticket_refused(info.value, status)


@pytest.mark.parametrize("status", list(TicketStatus))
def test_ticket_reject(status: TicketStatus) -> None:
    ticket = make_ticket(status)
    if status is T.NEW:
        ticket.reject("pizza-palace", "out of dough")
        assert ticket.status is T.REJECTED and ticket.reason == "out of dough"
        assert [(e.event_type, e.reason) for e in ticket.events] == [("StoreOrderRejected", "out of dough")]
    else:
        with pytest.raises(Conflict) as info:
            ticket.reject("pizza-palace", "out of dough")
        assert ticket.status is status and ticket.events == [] and ticket.reason is None
        _assert_ticket_refused(info.value, status)


@pytest.mark.parametrize("status", list(TicketStatus))
def test_ticket_mark_ready(status: TicketStatus) -> None:
    ticket = make_ticket(status)
    if status is T.COOKING:
        ticket.mark_ready("pizza-palace")
        assert ticket.status is T.READY
        assert [e.event_type for e in ticket.events] == ["CookingFinished"]
    else:
        with pytest.raises(Conflict) as info:
            ticket.mark_ready("pizza-palace")
        assert ticket.status is status and ticket.events == []
        _assert_ticket_refused(info.value, status)
        if status is T.NEW:
            assert "cooking has not started" in str(info.value)


@pytest.mark.parametrize("action", ["accept", "reject", "mark_ready"])
@pytest.mark.parametrize("status", list(TicketStatus))
def test_ticket_wrong_store_is_not_permitted(status: TicketStatus, action: str) -> None:
    ticket = make_ticket(status)
    args = ("seoul-bbq", "no") if action == "reject" else ("seoul-bbq",)
    with pytest.raises(NotPermitted) as info:
        getattr(ticket, action)(*args)
    assert "pizza-palace" in str(info.value) and "seoul-bbq" in str(info.value)
    assert ticket.status is status and ticket.events == []


@pytest.mark.parametrize("status", list(TicketStatus))
def test_ticket_decide_cancellation(status: TicketStatus) -> None:
    ticket = make_ticket(status)
    ticket.decide_cancellation()
    if status is T.NEW:
        assert ticket.status is T.CANCELLED
        assert [e.event_type for e in ticket.events] == ["StoreOrderCancelled"]
    else:
        assert ticket.status is status  # refusing changes nothing in the kitchen
        (refused,) = ticket.events
        assert refused.event_type == "CancellationRefused" and refused.reason
        expected = {
            T.COOKING: "already started cooking",
            T.READY: "already cooked",
            T.PICKED_UP: "on the way",
            T.DONE: "already been delivered",
            T.REJECTED: "already rejected",
            T.CANCELLED: "CANCELLED",
        }[status]
        assert expected in refused.reason


# -- Delivery --------------------------------------------------------------------------------------


def make_delivery(status: DeliveryStatus, rider: str | None = None) -> Delivery:
    return Delivery(order_id="ord-000042", status=status, rider_id=rider, version=1)


def test_delivery_pick_up_by_two_riders_second_gets_conflict_naming_the_first() -> None:
    delivery = make_delivery(D.AVAILABLE)
    delivery.pick_up("rider-kim")
    assert delivery.status is D.PICKED_UP and delivery.rider_id == "rider-kim"
    assert [(e.event_type, e.rider_id) for e in delivery.events] == [("DeliveryPickedUp", "rider-kim")]
    with pytest.raises(Conflict) as info:
        delivery.pick_up("rider-lee")
    assert "rider-kim" in str(info.value)
    assert delivery.rider_id == "rider-kim" and len(delivery.events) == 1


def test_delivery_pick_up_twice_by_same_rider_is_a_conflict() -> None:
    delivery = make_delivery(D.PICKED_UP, "rider-kim")
    with pytest.raises(Conflict, match="already picked up"):
        delivery.pick_up("rider-kim")
    assert delivery.events == []


@pytest.mark.parametrize("rider", ["rider-kim", "rider-lee"])
def test_delivery_pick_up_after_completion_is_a_conflict(rider: str) -> None:
    delivery = make_delivery(D.COMPLETED, "rider-kim")
    with pytest.raises(Conflict):
        delivery.pick_up(rider)
    assert delivery.status is D.COMPLETED and delivery.rider_id == "rider-kim" and delivery.events == []


def test_delivery_complete_by_the_rider_who_picked_it() -> None:
    delivery = make_delivery(D.PICKED_UP, "rider-kim")
    delivery.complete("rider-kim")
    assert delivery.status is D.COMPLETED
    assert [(e.event_type, e.rider_id) for e in delivery.events] == [("DeliveryCompleted", "rider-kim")]


@pytest.mark.parametrize("status", [D.PICKED_UP, D.COMPLETED])
def test_delivery_complete_by_the_wrong_rider_is_not_permitted(status: DeliveryStatus) -> None:
    delivery = make_delivery(status, "rider-kim")
    with pytest.raises(NotPermitted) as info:
        delivery.complete("rider-lee")
    assert info.value.exit_code == 5 and "rider-kim" in str(info.value)
    assert delivery.status is status and delivery.events == []


def test_delivery_complete_before_pick_up_is_refused() -> None:
    delivery = make_delivery(D.AVAILABLE)
    with pytest.raises(Conflict) as info:
        delivery.complete("rider-kim")
    assert info.value.exit_code == 4 and "no rider" in str(info.value) and "AVAILABLE" in str(info.value)
    assert delivery.status is D.AVAILABLE and delivery.events == []


def test_delivery_complete_twice_is_an_illegal_transition() -> None:
    delivery = make_delivery(D.COMPLETED, "rider-kim")
    with pytest.raises(IllegalTransition) as info:
        delivery.complete("rider-kim")
    assert "COMPLETED" in str(info.value) and "final status" in str(info.value)
    assert delivery.events == []
