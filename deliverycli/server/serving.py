"""Running the gateway under uvicorn, in this process or in several worker processes."""

from __future__ import annotations

import os
import socket

from ..settings import Settings


def serve(sock: socket.socket, settings: Settings, workers: int = 1) -> None:
    """Serve the gateway on ``sock`` until SIGTERM or SIGINT, then finish the requests in flight.

    With several workers each process imports the app afresh (``app_from_environment``) and opens
    its own engine on the same database; the database setting reaches them through the environment.
    """
    import uvicorn

    if workers == 1:
        from ..integrations.payment_provider import serve as serve_app
        from .app import create_app

        serve_app(sock, create_app(settings))
        return
    from uvicorn.supervisors import Multiprocess

    os.environ["DELIVERYCLI_DB"] = settings.db
    config = uvicorn.Config(
        "deliverycli.server.app:app_from_environment", factory=True, workers=workers, log_level="warning", access_log=False,
        lifespan="on", timeout_graceful_shutdown=10,
    )
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
