"""Prometheus metrics: request counts and latencies by route, and the engine's state at each scrape.

Each app has its own registry (no process-wide state). With several workers (``serve --workers``)
each keeps its own request counters; the engine's figures are the same from any of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..engine.lifecycle import OrderStatus

if TYPE_CHECKING:
    from ..engine.bootstrap import Engine

UNTIMED_ROUTES = ("/events",)  # a stream's duration says nothing about latency
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class EngineCollector(Collector):
    """The engine's figures, read at each scrape from ``engine.ops.overview``."""

    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        engine = self.engine()
        if engine is None:  # before start-up finished
            return
        overview = engine.ops.overview()
        orders = GaugeMetricFamily("deliverycli_orders", "Orders by status (the status view).", labels=["status"])
        for status in OrderStatus:
            orders.add_metric([status.value], overview.orders_by_status.get(status.value, 0))
        yield orders
        yield CounterMetricFamily("deliverycli_events", "Events in the event log (its head sequence number).", value=overview.head)
        lag = GaugeMetricFamily("deliverycli_subscriber_lag", "Events a subscriber has yet to take effect on.", labels=["subscriber"])
        for subscriber in overview.subscribers:
            lag.add_metric([subscriber.id], subscriber.lag)
        yield lag
        yield GaugeMetricFamily("deliverycli_dead_letters", "Events parked after their handler kept failing.", value=len(overview.dead_letters))
        breaker = GaugeMetricFamily("deliverycli_payment_breaker_state", "The payment circuit breaker: 1 for its current state.", labels=["state"])
        for state in ("closed", "open", "half-open"):
            breaker.add_metric([state], 1 if overview.breaker.state == state else 0)
        yield breaker
        yield GaugeMetricFamily("deliverycli_orders_stuck", f"Orders in a non-final status unchanged for over {overview.stuck_after_s:g} s.", value=overview.stuck_count)


class Instrumentation:
    """The app's registry with its request metrics and the engine's figures."""

    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "deliverycli_http_requests", "HTTP requests answered, by method, route and status.", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "deliverycli_http_request_duration_seconds", "Time to answer an HTTP request, by method and route.", ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0), registry=self.registry,
        )
        self.registry.register(EngineCollector(engine))

    def observe(self, scope: dict[str, Any], status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"  # the template, not the path: bounded labels
        method = scope["method"] if scope["method"] in METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        if route not in UNTIMED_ROUTES:
            self.latency.labels(method, route).observe(seconds)


class RequestMetrics:
    """An ASGI middleware counting and timing every request in ``instrumentation``."""

    def __init__(self, app: ASGIApp, instrumentation: Instrumentation) -> None:
        self.app = app
        self.instrumentation = instrumentation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception became the server's 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.instrumentation.observe(scope, status, time.perf_counter() - started)
