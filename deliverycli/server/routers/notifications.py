"""``/notifications``: the notifications sent to the caller (ops: all of them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...engine.views import Notification
from ..auth import ActorDep, EngineDep
from ..errors import problem_responses
from ..params import MAX_OFFSET

router = APIRouter(tags=["notifications"], responses=problem_responses(401, 404, 422, 503))


@router.get("/notifications")
def list_notifications(
    actor: ActorDep, engine: EngineDep,
    after: Annotated[int, Query(ge=0, le=MAX_OFFSET * MAX_OFFSET, description="only those with a greater id, oldest first (paging forward)")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Notification]:
    """The caller's notifications oldest first (the newest ``limit``, or those after ``after``)."""
    if actor.role == "ops":
        return engine.notifications.list(None, None, after, limit)
    return engine.notifications.list(actor.role, actor.actor_id, after, limit)
