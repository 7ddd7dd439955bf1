"""``/deliveries``: riders see what waits for pickup and their own deliveries, pick up and complete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ...engine.errors import NotPermitted
from ...engine.outside_views import Actor
from ...engine.views import DeliveryState, DeliveryView
from ..auth import EngineDep, RiderActor, allow
from ..errors import problem_responses
from ..params import Id, OrderId

router = APIRouter(tags=["deliveries"], responses=problem_responses(401, 403, 404, 422, 503))


@router.get("/deliveries")
def list_deliveries(
    actor: Annotated[Actor, Depends(allow("rider", "ops"))], engine: EngineDep,
    available: Annotated[bool, Query(description="only deliveries waiting for a rider")] = False,
    rider_id: Annotated[Id | None, Query(description="ops only: one rider's")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[DeliveryView]:
    """With ``available=true``, what waits for a rider; otherwise a rider's own deliveries (ops: all, or ``rider_id``'s)."""
    if actor.role == "rider":
        if rider_id is not None and rider_id != actor.actor_id:
            raise NotPermitted(f"a rider token sees only its own deliveries (rider {actor.actor_id})")
        if not available:
            return engine.deliveries.of_rider(actor.actor_id or "", limit)
        rider_id = None
    return engine.deliveries.list(available, rider_id, limit)


@router.post("/deliveries/{order_id}/pickup", responses=problem_responses(409))
def pick_up(order_id: OrderId, actor: RiderActor, engine: EngineDep) -> DeliveryState:
    """Take a delivery; of two riders racing for it exactly one wins, the other gets 409."""
    return engine.deliveries.pick_up(order_id, actor.actor_id or "")


@router.post("/deliveries/{order_id}/complete", responses=problem_responses(409))
def complete(order_id: OrderId, actor: RiderActor, engine: EngineDep) -> DeliveryState:
    """Hand the food over (only the rider who picked it up: 403 for another)."""
    return engine.deliveries.complete(order_id, actor.actor_id or "")
