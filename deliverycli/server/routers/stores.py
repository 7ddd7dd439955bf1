"""``/stores/{id}``: a store's order list (kitchen tickets), and pausing or resuming its orders; for
that store and ops."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from ...engine.errors import NotPermitted
from ...engine.lifecycle import TicketStatus
from ...engine.views import Store, StoreTicket
from ..auth import EngineDep, StoreOrOps, own_id
from ..errors import problem_responses
from ..params import StoreId

router = APIRouter(tags=["stores"], responses=problem_responses(401, 403, 404, 422, 503))


class Pause(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, min_length=1, max_length=200, description="what customers who try to order are told")


@router.get("/stores/{store_id}/queue")
def store_queue(
    store_id: StoreId, actor: StoreOrOps, engine: EngineDep,
    status: TicketStatus | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[StoreTicket]:
    """The store's tickets newest first (only those in ``status`` if given)."""
    if actor.role == "store" and actor.actor_id != store_id:  # stores are public: no need to hide one
        raise NotPermitted(f"a store token sees only its own queue (store {actor.actor_id})")
    return engine.store.queue(store_id, status.value if status else None, limit)


@router.post("/stores/{store_id}/pause")
def pause_store(store_id: StoreId, actor: StoreOrOps, engine: EngineDep, body: Annotated[Pause | None, Body()] = None) -> Store:
    """Stop taking orders (that store's token, or ops): placing one answers 409 with the reason; the
    kitchen's tickets go on. Pausing again replaces the reason."""
    return engine.store.pause(own_id(actor, store_id, "store"), body.reason if body else None)


@router.post("/stores/{store_id}/resume")
def resume_store(store_id: StoreId, actor: StoreOrOps, engine: EngineDep) -> Store:
    """Take orders again (that store's token, or ops); a store that is not paused stays as it is."""
    return engine.store.resume(own_id(actor, store_id, "store"))
