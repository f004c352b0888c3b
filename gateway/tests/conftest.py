"""A gateway app with no upstreams listening and a locally minted signing key."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm

from crm_gateway.app import create_app
from crm_gateway.settings import GatewaySettings
from crm_kit.auth.tokens import AccessTokenVerifier, JwksCache

KID = "gateway-test-key"
# Nothing listens on port 1, so every upstream call fails fast with UNAVAILABLE.
NO_UPSTREAM = "127.0.0.1:1"

TokenFactory = Callable[..., str]


def gateway_settings() -> GatewaySettings:
    return GatewaySettings(
        identity_address=NO_UPSTREAM,
        crm_core_address=NO_UPSTREAM,
        rate_limit_default="3/second",
        rate_limit_auth="2/minute",
        max_body_bytes=1024,
        upstream_timeout_seconds=2,
        # No event bus in unit tests: revocations are fed to the verifier directly.
        nats_url="",
    )


def access_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "crm-identity",
        "aud": "crm",
        "sub": str(uuid.uuid4()),
        "tenant": str(uuid.uuid4()),
        "roles": ["owner"],
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return claims


def sign(key: ec.EllipticCurvePrivateKey, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": KID, "typ": "at+jwt"})


@pytest.fixture(scope="session")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def mint_token(signing_key: ec.EllipticCurvePrivateKey) -> TokenFactory:
    """An access token for a fresh user (so rate limits never leak between tests).

    Signed by the gateway's trusted key unless `key` names another; keyword claims
    override the valid defaults.
    """

    def mint(*, key: ec.EllipticCurvePrivateKey | None = None, **overrides: Any) -> str:
        return sign(key or signing_key, access_claims(**overrides))

    return mint


@pytest.fixture
def verifier(signing_key: ec.EllipticCurvePrivateKey) -> AccessTokenVerifier:
    jwk = {**ECAlgorithm.to_jwk(signing_key.public_key(), as_dict=True), "kid": KID}
    document = json.dumps({"keys": [{**jwk, "alg": "ES256", "use": "sig"}]})

    async def fetch() -> str:
        return document

    return AccessTokenVerifier(JwksCache(fetch), issuer="crm-identity", audience="crm")


@pytest_asyncio.fixture
async def app(verifier: AccessTokenVerifier) -> AsyncIterator[FastAPI]:
    app = create_app(gateway_settings())
    app.state.verifier = verifier
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
