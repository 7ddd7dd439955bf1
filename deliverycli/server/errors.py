"""Errors as RFC 9457 problem documents (``application/problem+json``), mapped in one place.

An engine error's HTTP status follows from its exit code (SPEC §8, §9): 2 → 422, 3 → 404, 4 → 409,
5 → 403, 6 → 402 (declined) or 503 (payment unavailable), 7 → 503; ``code`` is the string the CLI
prints with ``--json``. The gateway adds its own: 401 (no, bad or revoked token), 413 (a body over
64 KB), 404/405 for routes that do not exist. Anything else is a bug: 500, and its traceback goes
to the server's log, never to the client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..engine.errors import DeliveryError, PaymentFailed, unavailable_database

PROBLEM_MEDIA_TYPE = "application/problem+json"
MAX_BODY_BYTES = 64 * 1024
log = logging.getLogger("deliverycli.server")

# exit code (SPEC §8) → HTTP status (SPEC §9); PaymentFailed (6) depends on why.
STATUS_BY_EXIT_CODE = {2: 422, 3: 404, 4: 409, 5: 403, 7: 503}
TITLES = {
    400: "Bad request", 401: "Not authenticated", 402: "Payment declined", 403: "Not permitted", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 413: "Request body too large", 422: "Invalid input", 500: "Internal error",
    503: "Service unavailable",
}
# The gateway's own codes for statuses no engine error has.
CODES = {400: "bad_request", 401: "unauthenticated", 404: "not_found", 405: "method_not_allowed", 413: "too_large", 422: "invalid_input"}


class Problem(BaseModel):
    """An error (RFC 9457). ``code`` is the CLI's ``--json`` error code; ``field`` names the input at fault."""

    type: str = Field(description="a URI naming the kind of problem")
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None


class Unauthenticated(HTTPException):
    """No bearer token, or one that is unknown or revoked: 401."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": "Bearer"})


class BodyTooLarge(HTTPException):
    """Raised while a request's body is read, once it passes ``MAX_BODY_BYTES``. An HTTPException,
    so FastAPI's body parsing lets it through rather than calling it a malformed body (400)."""

    def __init__(self) -> None:
        super().__init__(413, f"the request body is over {MAX_BODY_BYTES // 1024} KB")


def status_of(exc: DeliveryError) -> int:
    """The HTTP status of an engine error (500 for an exit code that means a bug)."""
    if isinstance(exc, PaymentFailed):
        return 503 if exc.unavailable else 402
    return STATUS_BY_EXIT_CODE.get(exc.exit_code, 500)


def problem(status: int, code: str, detail: str, field: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(type=f"urn:deliverycli:problem:{code}", title=TITLES.get(status, "Error"), status=status, detail=detail, code=code, field=field)
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def engine_problem(exc: DeliveryError) -> JSONResponse:
    status = status_of(exc)
    if status == 500:
        log.error("engine error with exit code %s: %s", exc.exit_code, exc.message)
        return problem(500, "internal", "internal error (see the server's log)")
    return problem(status, exc.code, exc.message, exc.field)


def _validation_detail(exc: RequestValidationError) -> tuple[str, str | None]:
    """FastAPI's validation errors in one line, and the first field at fault."""
    parts, field = [], None
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header"))
        field = field or (where.split(".")[0] if where else None)
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request", field


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document, and the body limit."""

    @app.exception_handler(DeliveryError)
    async def _engine_error(_: Request, exc: DeliveryError) -> JSONResponse:
        return engine_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail, field = _validation_detail(exc)
        return problem(422, "invalid_input", detail, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:  # Starlette lists only the first matching route's method; the path has others
            return problem(405, "method_not_allowed", f"{request.method} is not allowed here", headers={"Allow": ", ".join(allowed_methods(request))})
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (not UTF-8, say): invalid input, as any other
            return problem(422, "invalid_input", "the request body is not valid JSON text (UTF-8)")
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "error")
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no such route (see /docs)"
        return problem(exc.status_code, CODES.get(exc.status_code, "error"), detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        unavailable = unavailable_database(exc)  # a database error nobody worded on its way here
        if unavailable is not None:
            return problem(503, unavailable.code, unavailable.message)
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(500, "internal", "internal error (see the server's log)")

    app.add_middleware(BodyLimit)


def allowed_methods(request: Request) -> list[str]:
    """Every method the API describes for this request's path (read from the OpenAPI document once)."""
    from starlette.routing import compile_path

    table = getattr(request.app.state, "methods_by_path", None)
    if table is None:
        table = [(compile_path(path)[0], {method.upper() for method in operations}) for path, operations in request.app.openapi()["paths"].items()]
        request.app.state.methods_by_path = table
    return sorted({method for pattern, methods in table if pattern.match(request.url.path) for method in methods})


class BodyLimit:
    """Refuse request bodies over ``MAX_BODY_BYTES`` with 413: at once when Content-Length says so,
    else as soon as the streamed body passes the limit (nothing more of it is read)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:  # (the server refuses a malformed one)
            await problem(413, "too_large", BodyTooLarge().detail)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited, send)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses (moved to problem+json by ``problem_media_types``)."""
    return {status: {"model": Problem, "description": TITLES.get(status, "Error")} for status in statuses}


def problem_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI document that error responses are ``application/problem+json``."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                schema_ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
                if str(status).startswith(("4", "5")) and schema_ref.endswith("/Problem"):
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return schema
