"""Bearer tokens are verified at the gateway; anything else is a 401 problem."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from crm_gateway.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.unit

TokenFactory = Callable[..., str]

CONTACT = {"first_name": "Grace", "last_name": "Hopper"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def alg_none_token(kid: str) -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": kid}
    now = int(time.time())
    claims = {
        "iss": "crm-identity",
        "aud": "crm",
        "sub": "00000000-0000-0000-0000-000000000001",
        "tenant": "00000000-0000-0000-0000-000000000002",
        "roles": ["owner"],
        "iat": now,
        "exp": now + 300,
        "jti": "none-1",
    }
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."


def assert_unauthorized(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == code


class TestAuthentication:
    async def test_no_token_is_401_with_www_authenticate(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/contacts", json=CONTACT)

        assert_unauthorized(response, "unauthenticated")

    async def test_non_bearer_scheme_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/contacts", json=CONTACT, headers={"Authorization": "Basic dXNlcjpwYXNz"}
        )

        assert_unauthorized(response, "unauthenticated")

    async def test_forged_token_is_401(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        forged = mint_token(key=ec.generate_private_key(ec.SECP256R1()))

        response = await client.post(
            "/v1/contacts", json=CONTACT, headers={"Authorization": f"Bearer {forged}"}
        )

        assert_unauthorized(response, "invalid_token")

    async def test_expired_token_is_401_token_expired(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        now = int(time.time())
        expired = mint_token(iat=now - 600, exp=now - 60)

        response = await client.post(
            "/v1/contacts", json=CONTACT, headers={"Authorization": f"Bearer {expired}"}
        )

        assert_unauthorized(response, "token_expired")

    async def test_alg_none_token_is_401(self, client: httpx.AsyncClient) -> None:
        token = alg_none_token("gateway-test-key")

        response = await client.post(
            "/v1/contacts", json=CONTACT, headers={"Authorization": f"Bearer {token}"}
        )

        assert_unauthorized(response, "invalid_token")

    async def test_garbage_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/contacts", headers={"Authorization": "Bearer garbage"})

        assert_unauthorized(response, "invalid_token")

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/v1/contacts"),
            ("GET", "/v1/contacts/0b5e0c3e-0000-4000-8000-000000000001"),
            ("DELETE", "/v1/contacts/0b5e0c3e-0000-4000-8000-000000000001"),
            ("GET", "/v1/pipelines"),
        ],
    )
    async def test_every_resource_route_requires_a_token(
        self, client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        response = await client.request(method, path)

        assert_unauthorized(response, "unauthenticated")
