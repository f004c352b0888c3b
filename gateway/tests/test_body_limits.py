"""Bodies the API cannot take are refused before any route reads them."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_gateway.body_limits import BODY_SHA256, REPLAY_CHUNK_BYTES, BodyLimitMiddleware, BodyRule
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


def _echo_app(seen: dict[str, object]) -> ASGIApp:
    """An app that reads the whole replayed body and notes what it got."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        seen.update(body=b"".join(chunks), chunks=len(chunks), digest=scope.get(BODY_SHA256))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


class TestSpooledBodies:
    @pytest.mark.parametrize(
        "size", [0, 10, REPLAY_CHUNK_BYTES, 2 * REPLAY_CHUNK_BYTES, 3 * 1024 * 1024 + 7]
    )
    async def test_the_app_gets_the_exact_body_in_bounded_chunks_and_its_digest(
        self, size: int
    ) -> None:
        seen: dict[str, object] = {}
        rule = BodyRule(re.compile("/upload"), "application/octet-stream", 4 * 1024 * 1024)
        app = BodyLimitMiddleware(_echo_app(seen), max_bytes=1024, rules=[rule])
        body = bytes(i % 251 for i in range(size))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/upload", content=body, headers={"Content-Type": "application/octet-stream"}
            )

        assert response.status_code == 204
        assert seen["body"] == body
        assert seen["digest"] == hashlib.sha256(body).digest()
        # Replayed in pieces no larger than a chunk: never one buffer of the whole upload.
        assert seen["chunks"] == max(1, -(-size // REPLAY_CHUNK_BYTES))
