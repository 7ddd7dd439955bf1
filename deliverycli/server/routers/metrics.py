"""``/metrics``: Prometheus text, for an ops token (or, when a setting allows, anyone on this machine)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ...engine.errors import NotPermitted
from ..auth import bearer, current_actor, is_loopback
from ..errors import problem_responses

router = APIRouter(tags=["metrics"], responses=problem_responses(401, 403, 503))


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text"}})
def metrics(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> Response:
    """Orders by status, events, subscriber lag, dead letters, the breaker; requests and their latencies."""
    if not (request.app.state.settings.server_metrics_loopback and is_loopback(request)):
        actor = current_actor(request, credentials)
        if actor.role != "ops":
            raise NotPermitted("/metrics is for ops tokens")
    return Response(generate_latest(request.app.state.instrumentation.registry), media_type=CONTENT_TYPE_LATEST)
