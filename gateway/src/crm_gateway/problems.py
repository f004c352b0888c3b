"""RFC 9457 problem+json: the one shape of every error the gateway answers."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_kit.context import current_context
from crm_kit.errors import ERROR_CODE_METADATA_KEY, ERROR_FIELD_METADATA_KEY, ServiceError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = "2"

# One HTTP status per gRPC status. ABORTED is a stale version (If-Match), hence
# 412; FAILED_PRECONDITION is a state that forbids the request (the last owner,
# a cancelled organization), hence 409.
GRPC_TO_HTTP: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 412,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNIMPLEMENTED: 501,
}

# Error codes whose HTTP status is not their gRPC status's (a quota that is a size, a
# download link or file that is no more).
CODE_TO_HTTP = {"file_too_large": 413, "link_expired": 410, "export_file_expired": 410}

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    501: "Not implemented",
    503: "Service unavailable",
    504: "Upstream timed out",
}


class Problem(Exception):
    """Raise anywhere in the gateway to answer a problem+json."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.errors = errors or []
        self.headers = headers or {}
        # Members beyond RFC 9457's, declared in ProblemDetails (a duplicate's candidates).
        self.extra = extra or {}


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{problem.code}",
        "title": TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
        "instance": request.url.path,
        "request_id": current_context().request_id,
    }
    if problem.errors:
        body["errors"] = problem.errors
    body.update(problem.extra)
    # A refusal after the rate-limit check still tells the client where it stands.
    headers = {**getattr(request.state, "rate_limit_headers", {}), **problem.headers}
    if problem.status in (503, 504):
        headers.setdefault("Retry-After", RETRY_AFTER_SECONDS)
    if problem.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="crm"')
    return JSONResponse(
        body, status_code=problem.status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


# Where a request keeps the upstream field names it spells otherwise (see below).
_FIELD_NAMES_STATE_KEY = "upstream_field_names"


def name_upstream_fields(request: Request, names: Mapping[str, str]) -> None:
    """For this request, report an upstream error's field as the REST request spells it:
    the gRPC contract names some inputs otherwise (`items.statuses` for the body's
    `items.status`). A name maps the field itself and every field under it."""
    setattr(request.state, _FIELD_NAMES_STATE_KEY, names)


def _as_sent(field: str, names: Mapping[str, str]) -> str:
    for upstream, sent in names.items():
        if field == upstream or field.startswith((f"{upstream}.", f"{upstream}[")):
            return sent + field[len(upstream) :]
    return field


def from_rpc_error(
    error: grpc.aio.AioRpcError, field_names: Mapping[str, str] | None = None
) -> Problem:
    status = GRPC_TO_HTTP.get(error.code(), 500)
    trailing = {k: v for k, v in (error.trailing_metadata() or ()) if isinstance(v, str)}
    code = trailing.get(ERROR_CODE_METADATA_KEY) or error.code().name.lower()
    status = CODE_TO_HTTP.get(code, status)
    if status == 500:
        log.error("upstream failed", extra={"grpc_status": error.code().name})
        return Problem(500, "internal", "the request could not be completed")
    detail = error.details() or TITLES.get(status, "Error")
    if status in (503, 504):
        detail = "a service is unavailable; retry shortly"
    field = trailing.get(ERROR_FIELD_METADATA_KEY)
    if field and field_names:
        field = _as_sent(field, field_names)
    errors = [{"field": field, "message": detail, "code": code}] if field else None
    return Problem(status, code, detail, errors=errors)


def validation_problem(errors: Iterable[Mapping[str, Any]]) -> Problem:
    """422 listing each bad field, from pydantic's errors (FastAPI's or a model's own)."""
    listed = [
        {
            "field": ".".join(str(p) for p in err["loc"] if p != "body"),
            "message": err["msg"],
            "code": err["type"],
        }
        for err in errors
    ]
    return Problem(422, "validation_failed", "the request is not valid", errors=listed)


def install(app: FastAPI) -> None:
    """Every error path of the app answers problem+json, never a stack trace."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        status = GRPC_TO_HTTP.get(exc.status, 500)
        return problem_response(Problem(status, exc.code, exc.message), request)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc_error(request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        names = getattr(request.state, _FIELD_NAMES_STATE_KEY, None)
        return problem_response(from_rpc_error(exc, names), request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(exc.errors()), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        detail = str(exc.detail) if exc.detail else TITLES.get(exc.status_code, "Error")
        headers = dict(exc.headers or {})
        return problem_response(Problem(exc.status_code, code, detail, headers=headers), request)


class UnhandledErrorMiddleware:
    """Answers any unhandled error with a 500 problem, inside the edge middleware so the
    response keeps its request id and security headers (Starlette's own catch-all runs
    outside every middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error")
            if started:
                raise
            problem = Problem(500, "internal", "the request could not be completed")
            await problem_response(problem, Request(scope))(scope, receive, send)
