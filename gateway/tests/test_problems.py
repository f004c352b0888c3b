"""Every error is RFC 9457 problem+json; gRPC statuses map to one HTTP status each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from crm_gateway.problems import GRPC_TO_HTTP, PROBLEM_MEDIA_TYPE, from_rpc_error
from crm_kit.errors import ERROR_CODE_METADATA_KEY, ERROR_FIELD_METADATA_KEY

pytestmark = pytest.mark.unit

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "instance", "request_id"}


def rpc_error(
    code: grpc.StatusCode, details: str, *trailing: tuple[str, str]
) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        code,
        initial_metadata=grpc.aio.Metadata(),
        trailing_metadata=grpc.aio.Metadata(*trailing),
        details=details,
    )


class TestFromRpcError:
    def test_not_found_keeps_the_upstream_code_and_detail(self) -> None:
        error = rpc_error(
            grpc.StatusCode.NOT_FOUND,
            "contact not found",
            (ERROR_CODE_METADATA_KEY, "contact_not_found"),
        )

        problem = from_rpc_error(error)

        assert (problem.status, problem.code, problem.detail) == (
            404,
            "contact_not_found",
            "contact not found",
        )
        assert problem.errors == []

    def test_invalid_argument_with_a_field_lists_it(self) -> None:
        error = rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            "password must have at least 8 characters",
            (ERROR_CODE_METADATA_KEY, "password_too_short"),
            (ERROR_FIELD_METADATA_KEY, "password"),
        )

        problem = from_rpc_error(error)

        assert problem.status == 422
        assert problem.errors == [
            {
                "field": "password",
                "message": "password must have at least 8 characters",
                "code": "password_too_short",
            }
        ]

    @pytest.mark.parametrize(
        ("upstream", "sent"),
        [
            ("items.statuses", "items.status"),
            ("filter_groups[0].filters[2].field", "filter[2].field"),
            ("filter_groups", "filter"),
            ("items.statuses_extra", "items.statuses_extra"),
            ("columns[1]", "columns[1]"),
        ],
    )
    def test_upstream_fields_are_named_as_the_request_sent_them(
        self, upstream: str, sent: str
    ) -> None:
        error = rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            "bad",
            (ERROR_CODE_METADATA_KEY, "invalid_filter"),
            (ERROR_FIELD_METADATA_KEY, upstream),
        )
        names = {
            "items.statuses": "items.status",
            "filter_groups[0].filters": "filter",
            "filter_groups": "filter",
        }

        problem = from_rpc_error(error, names)

        assert [e["field"] for e in problem.errors] == [sent]

    def test_without_an_error_code_uses_the_status_name(self) -> None:
        problem = from_rpc_error(rpc_error(grpc.StatusCode.ALREADY_EXISTS, "taken"))

        assert (problem.status, problem.code) == (409, "already_exists")

    @pytest.mark.parametrize(
        "status", [grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS]
    )
    def test_internal_errors_leak_no_upstream_detail(self, status: grpc.StatusCode) -> None:
        error = rpc_error(
            status,
            "relation contacts does not exist at /srv/crm_core/repo.py:42",
            (ERROR_CODE_METADATA_KEY, "db_exploded"),
        )

        problem = from_rpc_error(error)

        assert (problem.status, problem.code) == (500, "internal")
        assert "relation" not in problem.detail
        assert "db_exploded" not in problem.detail

    @pytest.mark.parametrize(
        ("status", "http_status"),
        [(grpc.StatusCode.UNAVAILABLE, 503), (grpc.StatusCode.DEADLINE_EXCEEDED, 504)],
    )
    def test_unavailable_upstream_is_retryable_with_a_generic_detail(
        self, status: grpc.StatusCode, http_status: int
    ) -> None:
        problem = from_rpc_error(rpc_error(status, "connect failed: 10.0.0.7:50052"))

        assert problem.status == http_status
        assert "10.0.0.7" not in problem.detail

    @pytest.mark.parametrize(
        ("status", "http_status"),
        [
            (grpc.StatusCode.INVALID_ARGUMENT, 422),
            (grpc.StatusCode.NOT_FOUND, 404),
            (grpc.StatusCode.ALREADY_EXISTS, 409),
            (grpc.StatusCode.FAILED_PRECONDITION, 409),
            (grpc.StatusCode.ABORTED, 412),
            (grpc.StatusCode.PERMISSION_DENIED, 403),
            (grpc.StatusCode.UNAUTHENTICATED, 401),
            (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
            (grpc.StatusCode.UNAVAILABLE, 503),
        ],
    )
    def test_status_mapping(self, status: grpc.StatusCode, http_status: int) -> None:
        assert GRPC_TO_HTTP[status] == http_status
        assert from_rpc_error(rpc_error(status, "x")).status == http_status

    def test_ok_and_internal_are_not_mapped_to_a_client_error(self) -> None:
        assert grpc.StatusCode.OK not in GRPC_TO_HTTP
        assert grpc.StatusCode.INTERNAL not in GRPC_TO_HTTP


class TestProblemResponses:
    async def test_unknown_route_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/nothing-here")

        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        body = response.json()
        assert body.keys() >= PROBLEM_FIELDS
        assert body["status"] == 404
        assert body["code"] == "not_found"
        assert body["type"] == "/problems/not_found"
        assert body["title"] == "Not found"
        assert body["instance"] == "/v1/nothing-here"
        assert body["request_id"] == response.headers["x-request-id"]

    async def test_wrong_method_is_a_405_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.delete("/healthz")

        assert response.status_code == 405
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.headers["allow"] == "GET"
        body = response.json()
        assert body.keys() >= PROBLEM_FIELDS
        assert (body["status"], body["code"]) == (405, "method_not_allowed")

    async def test_healthz_is_plain_json(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


@pytest_asyncio.fixture
async def failing_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app plus one route that fails with an unexpected exception."""

    @app.get("/test-only/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2 in /srv/crm_gateway/secret.py")

    # Starlette re-raises after answering, so the server can log it; the client sees the 500.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


class TestUnexpectedErrors:
    async def test_unhandled_error_is_a_generic_500_problem(
        self, failing_client: httpx.AsyncClient
    ) -> None:
        response = await failing_client.get("/test-only/boom")

        assert response.status_code == 500
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        body = response.json()
        assert (body["code"], body["detail"]) == ("internal", "the request could not be completed")
        assert "hunter2" not in response.text

    async def test_unhandled_error_keeps_the_request_id(
        self, failing_client: httpx.AsyncClient
    ) -> None:
        response = await failing_client.get(
            "/test-only/boom", headers={"X-Request-Id": "trace-12345678"}
        )

        assert response.json()["request_id"] == "trace-12345678"
        assert response.headers["x-request-id"] == "trace-12345678"
