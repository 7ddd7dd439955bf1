"""serve: the seed's API gateway over HTTP, with bearer tokens (needs the `server` extra)."""

from __future__ import annotations

import typer

from ..cli import ctx_obj, whole_number
from ..integrations import require_extra
from ..output import emit


def command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (this machine only unless you say otherwise)."),
    port: int = typer.Option(8000, "--port", parser=whole_number(0, 65535), help="Port to listen on; 0 picks a free one (printed)."),
    workers: int = typer.Option(1, "--workers", parser=whole_number(1, 64), help="Worker processes sharing the port (and the database)."),
) -> None:
    """Serve the HTTP API until Ctrl+C or SIGTERM.

    Routes: orders, menus, stores, deliveries, payments, order status checks, notifications, the
    live event stream (/events), /healthz, /readyz, /metrics and the API docs (/docs).

    Every request needs `Authorization: Bearer TOKEN` (see `deliverycli tokens create`), except the
    probes and the API's description.
    """
    for module in ("fastapi", "uvicorn", "sse_starlette", "prometheus_client"):
        require_extra(module, "server")
    from ..engine.bootstrap import Engine
    from ..engine.storage import database_url, describe
    from ..integrations.payment_provider import listen, url_of

    cli = ctx_obj(ctx)
    settings = cli.settings()
    Engine.open(settings).close()  # fail now (not in each worker) on a missing, old or unreachable database; catch up once
    sock = listen(host, port)
    url = url_of(sock)
    info = {"id": "server", "url": url, "workers": workers, "database": describe(database_url(settings.db)), "docs": f"{url}/docs"}
    emit(cli.json, info, lambda: typer.echo(f"deliverycli gateway listening on {url} ({workers} worker(s); API at {url}/docs); Ctrl+C stops"))
    from ..server import serving

    serving.serve(sock, settings, workers)
