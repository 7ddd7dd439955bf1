"""Who a request acts as: a bearer token (``deliverycli tokens create``), resolved to an ``Actor``.

Routes declare who may call them with ``Depends(allow(...))``; what an actor may then do to a given
order is the engine's to decide (only the ordering customer cancels, only the order's store
accepts...). Where a customer or a store reaches for another's order, the answer is 404, as if it
did not exist: an order id tells nobody else that the order is there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..engine.bootstrap import Engine
from ..engine.errors import InvalidInput, NotFound, NotPermitted
from ..engine.outside_views import Actor
from .errors import Unauthenticated

bearer = HTTPBearer(auto_error=False, description="A token from `deliverycli tokens create` (customer, store, rider or ops).")


def get_engine(request: Request) -> Engine:
    """The process's one engine (opened by the app's lifespan)."""
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def current_actor(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> Actor:
    """The actor of the request's bearer token; 401 without one, or for an unknown or revoked one.

    A plain function: FastAPI runs it in its thread pool, where the engine's blocking read belongs.
    """
    if credentials is None:
        raise Unauthenticated("no bearer token: send Authorization: Bearer TOKEN")
    actor = get_engine(request).tokens.authenticate(credentials.credentials)
    if actor is None:
        raise Unauthenticated("the bearer token is unknown or revoked")
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def allow(*roles: str) -> Callable[[Actor], Actor]:
    """A dependency admitting only tokens of these roles (403 for the others)."""

    async def check(actor: ActorDep) -> Actor:
        if actor.role not in roles:
            raise NotPermitted(f"a {actor.role} token may not do this (it is for: {', '.join(roles)})")
        return actor

    return check


CustomerActor = Annotated[Actor, Depends(allow("customer"))]
StoreActor = Annotated[Actor, Depends(allow("store"))]
RiderActor = Annotated[Actor, Depends(allow("rider"))]
OpsActor = Annotated[Actor, Depends(allow("ops"))]
StoreOrOps = Annotated[Actor, Depends(allow("store", "ops"))]


def sees(actor: Actor, customer_id: str, store_id: str, rider_id: str | None = None) -> bool:
    """Whether ``actor`` may see an order of this customer and store (delivered by ``rider_id``)."""
    if actor.role == "ops":
        return True
    return actor.actor_id == {"customer": customer_id, "store": store_id, "rider": rider_id}[actor.role]


def check_sees(actor: Actor, order_id: str, customer_id: str, store_id: str, rider_id: str | None = None) -> None:
    """404 unless ``actor`` may see the order (see the module docstring)."""
    if not sees(actor, customer_id, store_id, rider_id):
        raise NotFound(f"no order {order_id!r}")


@contextmanager
def hidden_if_not_permitted(order_id: str) -> Iterator[None]:
    """The engine refuses a customer's or a store's command on another's order (403); say "no such
    order" instead, which is what that caller sees everywhere else."""
    try:
        yield
    except NotPermitted:
        raise NotFound(f"no order {order_id!r}") from None


def own_id(actor: Actor, given: str | None, what: str) -> str:
    """The customer or store id a request acts for: the token's own, or (ops) the one named."""
    if actor.role == "ops":
        if given is None:
            raise InvalidInput(f"an ops token must name the {what} (field {what}_id)", field=f"{what}_id")
        return given
    if given is not None and given != actor.actor_id:
        raise NotPermitted(f"a {actor.role} token acts only as {actor.role} {actor.actor_id}")
    return actor.actor_id or ""


def is_loopback(request: Request) -> bool:
    """Whether the request came from this machine."""
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
