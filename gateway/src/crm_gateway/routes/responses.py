"""OpenAPI error responses shared by the routes."""

from __future__ import annotations

from typing import Any

from crm_gateway.schemas import ProblemDetails

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ProblemDetails, "content": {PROBLEM_MEDIA_TYPE: {}}}
        for status in (*statuses, 429, 503)
    }
