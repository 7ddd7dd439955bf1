"""``/statusChecks/{order_id}``: the CQRS status view of an order with its timeline."""

from __future__ import annotations

from fastapi import APIRouter

from ...engine.views import StatusView
from ..auth import ActorDep, EngineDep, check_sees
from ..errors import problem_responses
from ..params import OrderId

router = APIRouter(tags=["statusChecks"], responses=problem_responses(401, 404, 422, 503))


@router.get("/statusChecks/{order_id}")
def status_check(order_id: OrderId, actor: ActorDep, engine: EngineDep) -> StatusView:
    """The order's status and timeline: for its customer, its store, its rider and ops (404 for anyone else)."""
    view = engine.orders.status(order_id)
    check_sees(actor, order_id, view.customer_id, view.store_id, view.rider_id)
    return view
