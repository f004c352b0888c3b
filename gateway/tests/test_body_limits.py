"""Bodies the API cannot take are refused before any route reads them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from crm_gateway.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.unit

MAX_BODY_BYTES = 1024  # gateway_settings() in conftest


class TestBodyLimits:
    async def test_body_over_the_limit_is_413(self, client: httpx.AsyncClient) -> None:
        body = json.dumps({"first_name": "x" * MAX_BODY_BYTES})

        response = await client.post(
            "/v1/contacts", content=body, headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json()["code"] == "body_too_large"

    async def test_body_at_the_limit_passes_the_size_check(self, client: httpx.AsyncClient) -> None:
        body = b"{" + b" " * (MAX_BODY_BYTES - 2) + b"}"

        response = await client.post(
            "/v1/contacts", content=body, headers={"Content-Type": "application/json"}
        )

        # Reaches authentication, which refuses the missing token.
        assert response.status_code == 401

    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
    )
    async def test_non_json_body_is_415(self, client: httpx.AsyncClient, content_type: str) -> None:
        response = await client.post(
            "/v1/auth/login", content=b"email=a&password=b", headers={"Content-Type": content_type}
        )

        assert response.status_code == 415
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json()["code"] == "unsupported_media_type"

    async def test_body_without_a_content_type_is_415(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/auth/login", content=b'{"email": "a"}')

        assert response.status_code == 415

    async def test_json_with_a_charset_is_accepted(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/auth/login",
            content=b'{"email": "", "password": "x"}',
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

        assert response.status_code == 422


async def _chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    yield b'{"first_name": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


class TestChunkedBodies:
    async def test_chunked_body_over_the_limit_is_413_without_content_length(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/v1/contacts",
            content=_chunks(4 * MAX_BODY_BYTES),
            headers={"Content-Type": "application/json"},
        )

        assert "content-length" not in response.request.headers
        assert response.status_code == 413
        assert response.json()["code"] == "body_too_large"

    async def test_chunked_non_json_body_is_415(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/contacts", content=_chunks(10), headers={"Content-Type": "text/plain"}
        )

        assert response.status_code == 415


class TestNulCharacters:
    async def test_nul_in_a_string_field_is_a_422_naming_the_field(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/v1/auth/login", json={"email": "ada\u0000@example.com", "password": "whatever1"}
        )

        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["email"]


FILES_PATH = "/v1/contacts/5b0c5c1e-3f7a-4c39-9d0e-2f6f1d9b6a10/files"


class TestFileUploadBodies:
    async def test_a_multipart_upload_over_the_json_limit_reaches_the_route(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            FILES_PATH, files={"file": ("a.bin", b"x" * (4 * MAX_BODY_BYTES))}
        )

        # Past the body limit; authentication refuses the missing token.
        assert response.status_code == 401

    async def test_json_to_the_upload_route_is_415(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            FILES_PATH, content=b"{}", headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 415

    async def test_multipart_elsewhere_is_still_415(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/contacts", files={"file": ("a.bin", b"x")})

        assert response.status_code == 415
