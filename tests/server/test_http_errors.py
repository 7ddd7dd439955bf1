"""Errors over HTTP: RFC 9457 problem documents whose status follows the engine's exit code and
whose ``code`` is the CLI's; bodies over 64 KB refused with 413; never a traceback to a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from deliverycli.engine.errors import Conflict, DatabaseUnavailable, DeliveryError, IllegalTransition, InvalidInput, NotFound, NotPermitted, PaymentFailed
from deliverycli.engine.outside_views import Actor
from deliverycli.server import auth
from deliverycli.server.app import create_app
from deliverycli.server.errors import status_of
from deliverycli.settings import load_settings

from .support import ADDRESS, Shop, shop


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInput("x"), 422), (NotFound("x"), 404), (Conflict("x"), 409), (IllegalTransition("order", "o", "PAID", "x", []), 409),
        (NotPermitted("x"), 403), (PaymentFailed("x"), 402), (PaymentFailed("x", unavailable=True), 503), (DatabaseUnavailable("x"), 503),
        (DeliveryError("x"), 500),
    ],
)
def test_each_exit_code_has_its_status(error: DeliveryError, status: int) -> None:
    assert status_of(error) == status


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "field"} and body["status"] == status and body["code"] == code, body
    assert "Traceback" not in response.text
    return body


def test_bodies_over_64_kb_are_refused_before_they_are_read(served: Shop) -> None:
    big = {"store_id": "pizza-palace", "items": [{"menu_item_id": "cola"}], "address": "x" * (64 * 1024)}
    problem(served.call("POST", "/orders", "alice", json=big), 413, "too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what streams in
        yield b'{"store_id": "pizza-palace", "address": "'
        for _ in range(100):
            yield b"y" * 1024
        yield b'"}'

    problem(served.call("POST", "/orders", "alice", content=chunks(), headers={"Content-Type": "application/json"}), 413, "too_large")
    assert served.call("POST", "/orders", "alice", json=big | {"address": "x" * 400}).status_code == 201  # under the limit: placed


def test_malformed_requests_are_invalid_input(served: Shop) -> None:
    for content in (b"{not json", b"\xff\xfe\x00", b"[]", b'{"store_id": "pizza-palace"}'):
        problem(served.call("POST", "/orders", "alice", content=content, headers={"Content-Type": "application/json"}), 422, "invalid_input")
    body = problem(served.place("alice", address="1 Main St\x1b[2J"), 422, "invalid_input")
    assert body["field"] == "address" and "control" in body["detail"]
    body = problem(served.place("alice", items=[{"menu_item_id": "cola", "quantity": 100}]), 422, "invalid_input")
    assert body["field"] == "items"
    problem(served.place("alice", items=[{"menu_item_id": "bulgogi"}]), 422, "invalid_input")  # another store's item
    problem(served.call("GET", "/orders/ord%00001", "alice"), 422, "invalid_input")  # a NUL no database column may hold


def test_unknown_routes_and_methods(served: Shop) -> None:
    problem(served.call("GET", "/nowhere", "alice"), 404, "not_found")
    response = served.call("DELETE", "/orders", "alice")
    problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"
    problem(served.call("GET", "/orders/ord-999999", "ops"), 404, "not_found")


def test_a_locked_database_is_503_and_readiness_says_why(tmp_path: Path) -> None:
    with shop("sqlite", tmp_path, env={"DELIVERYCLI_BUSY_TIMEOUT_S": "0.2"}) as s:
        assert s.place("alice").status_code == 201
        holder = sa.create_engine(f"sqlite:///{s.db}", connect_args={"isolation_level": None})
        with holder.connect() as conn:
            conn.exec_driver_sql("BEGIN EXCLUSIVE")  # another process holds the write lock
            try:
                body = problem(s.place("alice"), 503, "database_unavailable")
                assert "busy" in body["detail"]
                assert s.call("GET", "/orders", "alice").status_code == 200  # reads go on (WAL)
            finally:
                conn.exec_driver_sql("ROLLBACK")
        holder.dispose()
        assert s.place("alice").status_code == 201
        ready = s.call("GET", "/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True


def test_readiness_is_503_with_reasons_when_subscribers_lag(tmp_path: Path) -> None:
    with shop("sqlite", tmp_path, env={"DELIVERYCLI_SERVER_READY_MAX_LAG": "0"}) as s:
        with s.engine.deferred():  # committed, not yet taken effect: the subscribers lag
            s.engine.orders.place("alice", "pizza-palace", ["cola"], ADDRESS)
            response = s.call("GET", "/readyz")
        body = response.json()
        assert response.status_code == 503 and body["ready"] is False
        assert body["reasons"] and all("events behind (more than 0)" in r for r in body["reasons"]), body
        assert s.call("GET", "/healthz").json() == {"status": "ok"}  # alive all the same
        assert s.call("GET", "/readyz").status_code == 200  # caught up


# -- in process: the app's seams are its dependencies ------------------------------------------------


@pytest.fixture
def app_on_demo(demo_db: str) -> Iterator[Any]:
    app = create_app(load_settings(db=demo_db))
    with TestClient(app) as client:
        yield app, client


def test_routes_take_their_actor_from_the_auth_dependency(app_on_demo: Any) -> None:
    app, client = app_on_demo
    engine = app.state.engine
    engine.orders.place("alice", "pizza-palace", ["cola"], ADDRESS)
    engine.orders.place("bob", "pizza-palace", ["cola"], ADDRESS)
    assert client.get("/orders").status_code == 401
    app.dependency_overrides[auth.current_actor] = lambda: Actor(role="customer", actor_id="bob", token_id="tok_test")
    orders = client.get("/orders").json()
    assert orders and {o["customer_id"] for o in orders} == {"bob"}


def test_a_bug_is_a_500_problem_without_its_traceback(app_on_demo: Any) -> None:
    app, client = app_on_demo

    class Broken:
        class orders:  # noqa: N801 - stands in for the engine's group
            @staticmethod
            def status(order_id: str) -> Any:
                raise RuntimeError("secret internals")

    app.dependency_overrides[auth.current_actor] = lambda: Actor(role="ops", actor_id=None, token_id="tok_test")
    app.dependency_overrides[auth.get_engine] = lambda: Broken()
    response = TestClient(app, raise_server_exceptions=False).get("/statusChecks/ord-000001")
    problem(response, 500, "internal")
    assert "secret" not in response.text and "RuntimeError" not in response.text
