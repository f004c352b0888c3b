"""OpenAPI error responses shared by the routes."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from crm_gateway.schemas import ProblemDetails

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error responses of a route: its own, plus those any request can meet (a body
    that cannot be parsed, or an upstream's OUT_OF_RANGE: 400; a limit: 429; an
    unavailable service: 503)."""
    return {
        status: {"model": ProblemDetails, "content": {PROBLEM_MEDIA_TYPE: {}}}
        for status in sorted({*statuses, 400, 429, 503})
    }


def no_store(response: Response) -> None:
    """For answers carrying a secret (tokens, a new API key): no cache may keep them
    (RFC 6749 5.1), and the idempotency store does not either."""
    response.headers["Cache-Control"] = "no-store"
