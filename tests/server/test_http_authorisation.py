"""The authorisation matrix: every route × every caller (no token, a token nobody issued, a revoked
token, two customers, two stores, two riders, ops), each answer asserted. A caller refused changes
nothing; another customer's or store's order answers 404, as if it did not exist."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from .support import ADDRESS, Shop

CALLERS = ("anon", "bad", "revoked", "alice", "bob", "pizza", "seoul", "kim", "lee", "ops")
NO_TOKEN = {"anon": 401, "bad": 401, "revoked": 401}
ACTS_AS = {"alice": "alice", "bob": "bob", "pizza": "pizza-palace", "seoul": "seoul-bbq", "kim": "rider-kim", "lee": "rider-lee"}


def only(allowed: dict[str, int], default: int = 403) -> dict[str, int]:
    """Every token caller answers ``default`` except those named; no token answers 401."""
    return NO_TOKEN | {c: default for c in CALLERS if c not in NO_TOKEN} | allowed


@dataclass
class Route:
    method: str
    path: str  # {oid}: an order of alice at pizza-palace (delivered by rider-kim once it is picked up)
    expected: dict[str, int]
    state: str | None = None  # the order's state before the call: PAID, COOKING, READY, PICKED_UP, DELIVERED
    body: Callable[[str], Any] | None = None
    check: Callable[[str, Any], None] | None = None  # on a success: what the caller got is its own
    stream: bool = False
    changes: bool = False  # a success changes the order: each successful caller gets a fresh one
    headers: dict[str, str] = field(default_factory=dict)


def own_orders(caller: str, orders: list[dict[str, Any]]) -> None:
    key = {"alice": "customer_id", "bob": "customer_id", "pizza": "store_id", "seoul": "store_id"}.get(caller)
    assert key is None or all(o[key] == ACTS_AS[caller] for o in orders), (caller, orders)


def own_deliveries(caller: str, deliveries: list[dict[str, Any]], available: bool = False) -> None:
    if caller != "ops":
        assert all((d["status"] == "AVAILABLE") if available else (d["rider_id"] == ACTS_AS[caller]) for d in deliveries), (caller, deliveries)


def own_notifications(caller: str, notes: list[dict[str, Any]]) -> None:
    if caller != "ops":
        assert all(n["recipient_id"] == ACTS_AS[caller] for n in notes), (caller, notes)


ROUTES = {
    "place": Route("POST", "/orders", only({"alice": 201, "bob": 201, "ops": 422}),
                   body=lambda c: {"store_id": "pizza-palace", "items": [{"menu_item_id": "cola"}], "address": ADDRESS}),
    "list orders": Route("GET", "/orders", only({"alice": 200, "bob": 200, "pizza": 200, "seoul": 200, "ops": 200}), check=own_orders),
    "get order": Route("GET", "/orders/{oid}", only({"alice": 200, "pizza": 200, "ops": 200, "bob": 404, "seoul": 404})),
    "cancel": Route("POST", "/orders/{oid}/cancel", only({"alice": 200, "bob": 404}), state="PAID", changes=True),
    "confirm": Route("POST", "/orders/{oid}/confirm", only({"alice": 200, "bob": 404}), state="DELIVERED", changes=True),
    "accept": Route("POST", "/orders/{oid}/accept", only({"pizza": 200, "seoul": 404}), state="PAID", changes=True),
    "reject": Route("POST", "/orders/{oid}/reject", only({"pizza": 200, "seoul": 404}), state="PAID", changes=True, body=lambda c: {"reason": "closed"}),
    "ready": Route("POST", "/orders/{oid}/ready", only({"pizza": 200, "seoul": 404}), state="COOKING", changes=True),
    "menus": Route("GET", "/menus", only({c: 200 for c in ACTS_AS} | {"ops": 200})),
    "add menu item": Route("POST", "/menus", only({"pizza": 201, "seoul": 201, "ops": 422}),
                           body=lambda c: {"id": f"special-{c}", "name": "Special", "price": 1000}),
    "store queue": Route("GET", "/stores/pizza-palace/queue", only({"pizza": 200, "ops": 200}), check=own_orders),
    # The store controls act on seoul-bbq, where this module places no orders; each undoes the one before.
    "pause store": Route("POST", "/stores/seoul-bbq/pause", only({"seoul": 200, "ops": 200}), body=lambda c: {"reason": "closed today"}),
    "resume store": Route("POST", "/stores/seoul-bbq/resume", only({"seoul": 200, "ops": 200})),
    "sold out": Route("POST", "/menus/bulgogi/sold-out?store_id=seoul-bbq", only({"seoul": 200, "ops": 200})),
    "available again": Route("POST", "/menus/bulgogi/available?store_id=seoul-bbq", only({"seoul": 200, "ops": 200})),
    "available deliveries": Route("GET", "/deliveries?available=true", only({"kim": 200, "lee": 200, "ops": 200}),
                                  check=lambda c, d: own_deliveries(c, d, available=True)),
    "own deliveries": Route("GET", "/deliveries", only({"kim": 200, "lee": 200, "ops": 200}), check=own_deliveries),
    "pickup": Route("POST", "/deliveries/{oid}/pickup", only({"kim": 200, "lee": 200}), state="READY", changes=True),
    "complete": Route("POST", "/deliveries/{oid}/complete", only({"kim": 200}), state="PICKED_UP", changes=True),
    "payments": Route("GET", "/payments", only({"ops": 200})),
    "payment": Route("GET", "/payments/{oid}", only({"alice": 200, "ops": 200, "bob": 404})),
    "status check": Route("GET", "/statusChecks/{oid}", only({"alice": 200, "pizza": 200, "kim": 200, "ops": 200}, default=404), state="PICKED_UP"),
    "notifications": Route("GET", "/notifications", only({c: 200 for c in ACTS_AS} | {"ops": 200}), check=own_notifications),
    "events": Route("GET", "/events?after=0", only({c: 200 for c in ACTS_AS} | {"ops": 200}), stream=True),
    "order's events": Route("GET", "/events?after=0&order_id={oid}", only({"alice": 200, "pizza": 200, "kim": 200, "ops": 200}, default=404),
                            state="PICKED_UP", stream=True),
    "metrics": Route("GET", "/metrics", only({"ops": 200})),
    "liveness": Route("GET", "/healthz", {c: 200 for c in CALLERS}),
    "readiness": Route("GET", "/readyz", {c: 200 for c in CALLERS}),
    "openapi": Route("GET", "/openapi.json", {c: 200 for c in CALLERS}),
    "docs": Route("GET", "/docs", {c: 200 for c in CALLERS}),
}
STEPS = {"PAID": [], "COOKING": ["accept"], "READY": ["accept", "ready"], "PICKED_UP": ["accept", "ready", "pickup"],
         "DELIVERED": ["accept", "ready", "pickup", "complete"]}


def order_in(served: Shop, state: str | None) -> str:
    """A new order of alice at pizza-palace, moved (in this process, through the engine) to ``state``."""
    engine = served.engine
    oid = engine.orders.place("alice", "pizza-palace", ["margherita"], ADDRESS).id
    do = {"accept": lambda: engine.store.accept(oid, "pizza-palace"), "ready": lambda: engine.store.ready(oid, "pizza-palace"),
          "pickup": lambda: engine.deliveries.pick_up(oid, "rider-kim"), "complete": lambda: engine.deliveries.complete(oid, "rider-kim")}
    for step in STEPS.get(state or "PAID", []):
        do[step]()
    return oid


def call(served: Shop, route: Route, caller: str, oid: str) -> tuple[int, Any]:
    token = None if caller == "anon" else served.tokens[caller]
    path = route.path.format(oid=oid)
    kwargs: dict[str, Any] = {"headers": dict(route.headers)}
    if route.body is not None:
        kwargs["json"] = route.body(caller)
    if route.stream:
        with served.gateway.http.stream(route.method, path, headers=kwargs["headers"] | ({"Authorization": f"Bearer {token}"} if token else {})) as r:
            if r.status_code == 200:
                assert r.headers["content-type"].startswith("text/event-stream")
                return 200, None
            r.read()
            return r.status_code, r.json()
    response = served.gateway.call(route.method, path, token, **kwargs)
    is_json = response.headers.get("content-type", "").endswith("json")
    return response.status_code, response.json() if is_json else response.text


@pytest.mark.parametrize("name", list(ROUTES))
def test_every_caller_gets_its_answer(served: Shop, name: str) -> None:
    route = ROUTES[name]
    shared = order_in(served, route.state)  # the order every refused caller tries
    before = served.engine.orders.status(shared)
    wrong = []
    for caller in CALLERS:
        expected = route.expected[caller]
        oid = order_in(served, route.state) if route.changes and expected < 300 else shared
        status, body = call(served, route, caller, oid)
        if status != expected:
            wrong.append((caller, expected, status, body))
            continue
        if status >= 400:
            assert body["status"] == status and body["code"], (caller, body)
            assert body["code"] == {401: "unauthenticated", 403: "not_permitted", 404: "not_found", 422: "invalid_input"}[status], (caller, body)
            if status == 404:
                assert shared not in body["detail"] or "no order" in body["detail"], body  # says nothing more than "no such order"
        elif route.check is not None:
            route.check(caller, body)
    assert not wrong, "\n".join(f"{caller}: expected {e}, got {s}: {b}" for caller, e, s, b in wrong)
    after = served.engine.orders.status(shared)
    assert (after.status, after.timeline) == (before.status, before.timeline), "a refused caller changed the order"


def test_the_matrix_covers_every_route_the_gateway_documents(served: Shop) -> None:
    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])

    documented = {(method.upper(), shape(path)) for path, ops in served.gateway.call("GET", "/openapi.json", None).json()["paths"].items() for method in ops}
    known = {(r.method, shape(re.sub(r"/(pizza-palace|seoul-bbq|bulgogi)(?=/|$)", "/{}", r.path))) for r in ROUTES.values()}
    assert documented - known == set(), "routes without a row in ROUTES"
