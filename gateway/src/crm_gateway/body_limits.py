"""Refuse bodies the API cannot take before any route reads them: 413 and 415."""

from __future__ import annotations

from fastapi import Request
from starlette.middleware.base import RequestResponseEndpoint
from starlette.responses import Response

from crm_gateway.problems import Problem, problem_response

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def body_limit_middleware(max_bytes: int):  # type: ignore[no-untyped-def]
    async def check_body(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method in BODY_METHODS:
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                return problem_response(
                    Problem(413, "body_too_large", f"the body exceeds {max_bytes} bytes"), request
                )
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if length not in (None, "0") and media_type != "application/json":
                return problem_response(
                    Problem(415, "unsupported_media_type", "send the body as application/json"),
                    request,
                )
        return await call_next(request)

    return check_body
