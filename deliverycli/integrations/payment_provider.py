"""The payment provider as a separate HTTP service (the seed's Payment service, called over HTTP
as the seed's Feign client did): the simulated gateway behind a FastAPI app, with its own ledger
in a SQLite file of its own.

API (JSON; errors are ``{"detail": "..."}``). Every call but ``/healthz`` carries one of the
provider's API keys, ``Authorization: Bearer sk_...`` (provider_keys.py), or is refused with 401.

- ``POST /charges`` ``{"amount", "card_number"}`` with ``Idempotency-Key``: charges once per key;
  200 the charge, 402 declined (or the key was voided), 503 the provider failed (fault injection,
  the processing-error test card, or no answer within ``Request-Timeout`` seconds).
- ``POST /refunds`` ``{"amount"}`` with the charge's ``Idempotency-Key``: refunds once; 404 no charge.
- ``GET /charges/{key}``: the charge, 404 none.
- ``GET /charges?after=KEY&limit=N``: the ledger in key order, a page at a time
  (``{"charges": {key: charge, ...}, "next": KEY or null}``), for reconciliation (`doctor --check`).
- ``POST /voids`` with ``Idempotency-Key``: refuse any charge with that key from now on;
  ``{"voided": true, "charge": null}``, or ``{"voided": false, "charge": {...}}`` if it was charged.
- ``GET /healthz``: the fault settings.

The same test cards as in process (``deliverycli.engine.payment.TEST_CARDS``).
"""

from __future__ import annotations

import signal
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from ..engine import storage
from ..engine.errors import Conflict, InvalidInput, NotFound
from ..engine.payment import CardDeclined, GatewayCharge, GatewayUnavailable
from ..engine.payment.simulated import SimulatedGateway
from ..engine.unit_of_work import database_errors
from . import provider_keys
from .payment_http import TIMEOUT_HEADER

PAGE_MAX = 10_000  # charges per page of the ledger
MAX_WAIT_S = 120.0  # a caller that sends no Request-Timeout: the longest latency the provider simulates

Key = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=64)]
Credentials = Annotated[
    HTTPAuthorizationCredentials | None,
    Security(HTTPBearer(auto_error=False, description="an API key of the provider's (`payment-provider serve` prints one)")),
]
Timeout = Annotated[float, Header(alias=TIMEOUT_HEADER, gt=0, le=MAX_WAIT_S)]


class ChargeRequest(BaseModel):
    amount: int = Field(ge=0, le=10**15, description="integer minor units")
    card_number: str = Field(pattern=r"^[0-9]{12,19}$")


class RefundRequest(BaseModel):
    amount: int = Field(ge=0, le=10**15)


class Charge(BaseModel):
    charge_id: str
    amount: int
    card_suffix: str
    refund_id: str | None = None

    @classmethod
    def of(cls, charge: GatewayCharge) -> Charge:
        return cls(charge_id=charge.charge_id, amount=charge.amount, card_suffix=charge.card_suffix, refund_id=charge.refund_id)


class Ledger(BaseModel):
    charges: dict[str, Charge] = Field(description="by idempotency key (the order id), in key order")
    next: str | None = Field(description="the ``after`` of the next page; null on the last")


class Refund(BaseModel):
    refund_id: str


class Void(BaseModel):
    voided: bool
    charge: Charge | None = None


def create_app(ledger: str | Path, *, latency_ms: int = 0, failure_rate: float = 0.0, seed: int = 0, busy_timeout_s: float = 5.0) -> FastAPI:
    """The provider's app on the ledger at ``ledger`` (a SQLite file path, created if missing)."""
    if Path(ledger).is_dir():
        raise InvalidInput(f"--ledger {ledger} is a folder; give the path of a file (created if missing)")
    url = storage.database_url(str(ledger))
    with database_errors():
        if url.get_backend_name() == "sqlite":
            try:
                storage.create_sqlite_file(url)
            except OSError as exc:
                raise InvalidInput(f"cannot create the ledger {ledger}: {exc.strerror or exc}") from None
        db = storage.make_engine(url, busy_timeout_s=busy_timeout_s)
        gateway = SimulatedGateway(db, failure_rate=failure_rate, latency_ms=latency_ms, seed=seed)
        gateway._ensure_ledger()  # at start: the first charge does not pay for it, and a bad ledger fails now
        provider_keys.ensure(db)

    def authenticated(credentials: Credentials) -> None:
        if credentials is None or not provider_keys.known(db, credentials.credentials):
            reason = "no API key: send Authorization: Bearer sk_..." if credentials is None else "the API key is not one of this provider's"
            raise HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        db.dispose()

    app = FastAPI(title="deliverycli payment provider", version="1", lifespan=lifespan)
    app.state.ledger_db = db  # for `serve`, which makes the first API key
    keyed = [Depends(authenticated)]

    # Plain `def` endpoints: FastAPI runs them in its thread pool, where the gateway's blocking
    # database calls and simulated latency hold no one else up.
    @app.post("/charges", response_model=Charge, dependencies=keyed)
    def charge(body: ChargeRequest, key: Key, timeout: Timeout = MAX_WAIT_S) -> Charge:
        return Charge.of(_answer(gateway.charge, key, body.amount, body.card_number, timeout))

    @app.post("/refunds", response_model=Refund, dependencies=keyed)
    def refund(body: RefundRequest, key: Key, timeout: Timeout = MAX_WAIT_S) -> Refund:
        return Refund(refund_id=_answer(gateway.refund, key, body.amount, timeout))

    @app.get("/charges", response_model=Ledger, dependencies=keyed)
    def ledger_page(
        after: Annotated[str | None, Query(max_length=64)] = None, limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 1000
    ) -> Ledger:
        page = gateway.charges(after, limit)
        return Ledger(charges={key: Charge.of(c) for key, c in page.items()}, next=next(reversed(page)) if len(page) == limit else None)

    @app.get("/charges/{key}", response_model=Charge, dependencies=keyed)
    def lookup(key: str) -> Charge:
        found = gateway.lookup(key)
        if found is None:
            raise HTTPException(404, f"no charge for {key}")
        return Charge.of(found)

    @app.post("/voids", response_model=Void, dependencies=keyed)
    def void(key: Key, timeout: Timeout = MAX_WAIT_S) -> Void:
        charged = _answer(gateway.void, key, timeout)
        return Void(voided=charged is None, charge=Charge.of(charged) if charged else None)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "latency_ms": gateway.latency_ms, "failure_rate": gateway.failure_rate, "seed": gateway.seed}

    return app


def make_key_if(app: FastAPI, asked: bool) -> str | None:
    """A new API key when ``asked``, or when the ledger has none yet (its first start); else None."""
    db = app.state.ledger_db
    with database_errors():
        return provider_keys.create(db) if asked or provider_keys.count(db) == 0 else None


def _answer(call: Callable[..., Any], *args: Any) -> Any:
    """The gateway's answer, its refusals as HTTP statuses."""
    try:
        return call(*args)
    except CardDeclined as exc:
        raise HTTPException(402, str(exc)) from None
    except GatewayUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    except NotFound as exc:
        raise HTTPException(404, exc.message) from None


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one). Bound here rather than by uvicorn
    so that a busy port is a clear error, and the address is known before the first request."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(f"--host {host!r} is not an address this machine can listen on: {exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once on the same port
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise Conflict(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def serve(sock: socket.socket, app: FastAPI) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM or SIGINT, then finish the requests in flight and return."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=10))
    # uvicorn shuts down gracefully on these and then re-raises them to the handlers it found: make
    # those do nothing, so a stop is a clean exit (0) rather than death by the signal.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
