"""``/healthz`` (liveness) and ``/readyz`` (readiness), for anyone: no token, as a probe calls them."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from ...engine.errors import DeliveryError
from ...engine.views import Readiness
from ..auth import EngineDep

router = APIRouter(tags=["probes"])


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/healthz")
async def healthz() -> Liveness:
    """The process is up and answering (the database is not asked: that is readiness)."""
    return Liveness()


def readiness(engine: EngineDep, max_lag: int) -> Readiness:
    """Ready when the database answers at the expected schema and no subscriber lags more than ``max_lag`` events."""
    try:
        health = engine.ops.health()
    except DeliveryError as exc:
        return Readiness(ready=False, reasons=[f"database: {exc.message}"], max_lag=max_lag, health=None)
    reasons = []
    if not health.schema_.ready:
        reasons.append(f"schema is at {health.schema_.current}, expected {health.schema_.expected}")
    reasons += [f"subscriber {s.id} is {s.lag} events behind (more than {max_lag})" for s in health.subscribers if s.lag > max_lag]
    return Readiness(ready=not reasons, reasons=reasons, max_lag=max_lag, health=health)


@router.get("/readyz", responses={503: {"model": Readiness, "description": "not ready: `reasons` says why"}})
def readyz(request: Request, response: Response, engine: EngineDep) -> Readiness:
    """Readiness: 200 when the database is reachable at the current schema and subscribers keep up; 503 with reasons otherwise."""
    answer = readiness(engine, request.app.state.settings.server_ready_max_lag)
    if not answer.ready:
        response.status_code = 503
    return answer
