"""``/orders``: customers place, cancel and confirm; the order's store accepts, rejects and marks it ready."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ...engine.errors import InvalidInput
from ...engine.lifecycle import OrderStatus
from ...engine.validation import MAX_LINES, MAX_PREP_MIN, MAX_QUANTITY
from ...engine.outside_views import Actor
from ...engine.views import OrderSummary, OrderView, TicketState
from ..auth import CustomerActor, EngineDep, StoreActor, allow, check_sees, hidden_if_not_permitted, own_id
from ..errors import problem_responses
from ..params import Id, Limit, Offset, OrderId

CARD_REGEX = r"^[ -]*([0-9][ -]*){12,19}$"  # as the engine reads a card: 12 to 19 digits once spaces and dashes go
router = APIRouter(tags=["orders"], responses=problem_responses(401, 403, 404, 422, 503))


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    menu_item_id: Id
    quantity: int = Field(1, ge=1, le=MAX_QUANTITY)


class PlaceOrder(BaseModel):
    """An order to place and pay for at once."""

    model_config = ConfigDict(extra="forbid")

    store_id: Id
    items: list[OrderItem] = Field(min_length=1, max_length=MAX_LINES)
    address: str = Field(min_length=1, max_length=500)
    card: str | None = Field(
        None, max_length=60, pattern=CARD_REGEX, description="card number, 12 to 19 digits (spaces and dashes allowed); default: an approving test card"
    )
    customer_id: Id | None = Field(None, description="ops tokens only: the customer to place the order for")


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="why the store rejects the order (the customer is told; it is refunded)")


IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=128, description="retrying with the same key returns the same order, charged once")
]


@router.post("/orders", status_code=201, responses=problem_responses(402, 409, 413))
def place_order(
    body: PlaceOrder, actor: Annotated[Actor, Depends(allow("customer", "ops"))], engine: EngineDep, idempotency_key: IdempotencyKey = None
) -> OrderView:
    """Place an order and pay for it synchronously: 201 with the paid order, 402 declined, 503 payment unavailable."""
    customer_id = own_id(actor, body.customer_id, "customer")
    items = [(item.menu_item_id, item.quantity) for item in body.items]
    return engine.orders.place(customer_id, body.store_id, items, body.address, body.card, idempotency_key)


NEXT_PAGE = {"Link": {"description": 'the next page, when there is one: `<URL>; rel="next"` (RFC 8288)', "schema": {"type": "string"}}}
Cursor = Annotated[str | None, Query(max_length=100, description="where the page starts: the `after` of the previous page's Link header")]


@router.get("/orders", responses={200: {"headers": NEXT_PAGE}})
def list_orders(
    request: Request, response: Response,
    actor: Annotated[Actor, Depends(allow("customer", "store", "ops"))], engine: EngineDep, status: OrderStatus | None = None,
    customer_id: Id | None = None, store_id: Id | None = None, limit: Limit = 50, after: Cursor = None, offset: Offset = 0,
) -> list[OrderSummary]:
    """Orders newest first: a customer's own, a store's own, or (ops) all of them. Paged by key: when
    there are more, the `Link` header (rel="next") is the next page's URL, which orders placed
    meanwhile never shift. `offset` still pages the old way (without a Link)."""
    if actor.role == "customer":
        customer_id = own_id(actor, customer_id, "customer")
    elif actor.role == "store":
        store_id = own_id(actor, store_id, "store")
    status_value = status.value if status else None
    if offset:
        if after is not None:
            raise InvalidInput("page with after (the Link header's) or with offset, not both", field="offset")
        return engine.orders.list(customer_id, store_id, status_value, limit, offset)
    page = engine.orders.page(customer_id, store_id, status_value, limit, after)
    if page.next is not None:
        response.headers["Link"] = f'<{request.url.include_query_params(after=page.next)}>; rel="next"'
    return page.orders


@router.get("/orders/{order_id}")
def get_order(order_id: OrderId, actor: Annotated[Actor, Depends(allow("customer", "store", "ops"))], engine: EngineDep) -> OrderView:
    """One order with its lines (the ordering customer's, the order's store's, or ops')."""
    order = engine.orders.get(order_id)
    check_sees(actor, order_id, order.customer_id, order.store_id)
    return order


@router.post("/orders/{order_id}/cancel", responses=problem_responses(409))
def cancel_order(order_id: OrderId, actor: CustomerActor, engine: EngineDep) -> OrderView:
    """Ask to cancel (the ordering customer); the store decides. 409 with its reason when refused."""
    with hidden_if_not_permitted(order_id):
        return engine.orders.cancel(order_id, actor.actor_id or "")


@router.post("/orders/{order_id}/confirm", responses=problem_responses(409))
def confirm_order(order_id: OrderId, actor: CustomerActor, engine: EngineDep) -> OrderView:
    """The ordering customer confirms the food arrived."""
    with hidden_if_not_permitted(order_id):
        return engine.orders.confirm(order_id, actor.actor_id or "")


@router.post("/orders/{order_id}/accept", responses=problem_responses(409))
def accept_order(
    order_id: OrderId, actor: StoreActor, engine: EngineDep,
    prep_min: Annotated[int | None, Query(ge=1, le=MAX_PREP_MIN, description="minutes until ready (default: the store's usual time)")] = None,
) -> TicketState:
    """The order's store starts cooking; the customer and riders see when it should be ready."""
    with hidden_if_not_permitted(order_id):
        return engine.store.accept(order_id, actor.actor_id or "", prep_min)


@router.post("/orders/{order_id}/reject", responses=problem_responses(409, 413))
def reject_order(order_id: OrderId, body: Rejection, actor: StoreActor, engine: EngineDep) -> TicketState:
    """The order's store refuses a new order, saying why; it is cancelled and refunded."""
    with hidden_if_not_permitted(order_id):
        return engine.store.reject(order_id, actor.actor_id or "", body.reason)


@router.post("/orders/{order_id}/ready", responses=problem_responses(409))
def mark_ready(order_id: OrderId, actor: StoreActor, engine: EngineDep) -> TicketState:
    """The order's store finished cooking: the order goes on the delivery list."""
    with hidden_if_not_permitted(order_id):
        return engine.store.ready(order_id, actor.actor_id or "")
