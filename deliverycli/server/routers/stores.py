"""``/stores/{id}/queue``: a store's order list (kitchen tickets), for that store and ops."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ...engine.errors import NotPermitted
from ...engine.lifecycle import TicketStatus
from ...engine.outside_views import Actor
from ...engine.views import StoreTicket
from ..auth import EngineDep, allow
from ..errors import problem_responses
from ..params import StoreId

router = APIRouter(tags=["stores"], responses=problem_responses(401, 403, 404, 422, 503))


@router.get("/stores/{store_id}/queue")
def store_queue(
    store_id: StoreId, actor: Annotated[Actor, Depends(allow("store", "ops"))], engine: EngineDep,
    status: TicketStatus | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[StoreTicket]:
    """The store's tickets newest first (only those in ``status`` if given)."""
    if actor.role == "store" and actor.actor_id != store_id:  # stores are public: no need to hide one
        raise NotPermitted(f"a store token sees only its own queue (store {actor.actor_id})")
    return engine.store.queue(store_id, status.value if status else None, limit)
