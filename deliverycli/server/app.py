"""The gateway's app: ``create_app(settings)`` wires the routers, the error handlers, the metrics
and, at start-up, the process's one engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..engine.bootstrap import Engine
from ..settings import Settings, load_settings
from . import errors
from .instrumentation import Instrumentation, RequestMetrics
from .routers import deliveries, events, menus, metrics, notifications, orders, payments, probes, status_checks, stores

DESCRIPTION = """The seed's API gateway over deliverycli's engine.

Send `Authorization: Bearer TOKEN` with a token from `deliverycli tokens create --role customer|store|rider|ops [--as ID]`.
Errors are RFC 9457 `application/problem+json`; their `code` is the CLI's `--json` error code."""

ROUTERS = (orders, menus, stores, deliveries, payments, status_checks, notifications, events, probes, metrics)


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """The gateway on the database of ``settings``. Its engine is opened (catching up on whatever a
    crashed process left) when the app starts, unless one is given; a given engine is not closed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The engine's calls block: they run in the thread pool, sized to the database's connection pool.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.server_threads
        app.state.engine = engine or await run_in_threadpool(Engine.open, settings)
        app.state.watcher = events.HeadWatcher(app.state.engine.events.head, settings.server_sse_poll_s)
        sender = _webhook_sender(app.state.engine) if settings.server_webhooks else None
        try:
            yield
        finally:
            if sender is not None:
                await run_in_threadpool(sender.stop)
            await app.state.watcher.close()
            if engine is None:
                app.state.engine.close()
            app.state.engine = None

    app = FastAPI(title="deliverycli", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = None
    errors.install(app)
    app.state.instrumentation = Instrumentation(lambda: app.state.engine)
    app.add_middleware(RequestMetrics, instrumentation=app.state.instrumentation)
    for module in ROUTERS:
        app.include_router(module.router)
    if settings.server_bench_route:

        @app.get("/bench/constant", include_in_schema=False)
        def constant() -> dict[str, bool]:
            """A route doing nothing, run as the others are (in the thread pool): the benchmarks' baseline."""
            return {"ok": True}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors.problem_media_types(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _webhook_sender(engine: Engine) -> Any:
    """The webhook sender, in a thread beside the gateway (several gateway processes share the
    endpoints through their leases, so none is sent an event twice at once)."""
    from ..integrations.webhooks import BackgroundSender, quiet_stamina

    quiet_stamina()
    return BackgroundSender(engine).start()


def app_from_environment() -> FastAPI:
    """The app for a worker process (``serve --workers N``): settings from the environment and the settings file."""
    return create_app(load_settings())
