"""``/payments``: every payment (ops), or one order's (its customer, ops)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ...engine.outside_views import Actor
from ...engine.views import PaymentView
from ..auth import EngineDep, OpsActor, allow, check_sees
from ..errors import problem_responses
from ..params import OrderId

router = APIRouter(tags=["payments"], responses=problem_responses(401, 403, 404, 422, 503))


@router.get("/payments")
def list_payments(actor: OpsActor, engine: EngineDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[PaymentView]:
    """The newest payments first (ops)."""
    return engine.payments.list(limit)


@router.get("/payments/{order_id}")
def get_payment(order_id: OrderId, actor: Annotated[Actor, Depends(allow("customer", "ops"))], engine: EngineDep) -> PaymentView:
    """One order's payment: its amount, status, the card's masked suffix, any refund."""
    order = engine.orders.get(order_id)
    check_sees(actor, order_id, order.customer_id, order.store_id)
    return engine.payments.get(order_id)
