"""Tokens an attacker might send, and services called directly without the gateway."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import asyncpg
import grpc
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from crm.crm_core.v1 import contacts_pb2, contacts_pb2_grpc
from crm_devstack.stack import SERVICES, Stack, StackConfig

from .conftest import Account

pytestmark = pytest.mark.e2e

CRM_CORE = next(s for s in SERVICES if s.module == "crm_core")
IDENTITY = SERVICES[0]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(account: Account, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "crm-identity",
        "aud": "crm",
        "sub": account.user_id,
        "tenant": account.tenant_id,
        "roles": ["owner"],
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    return {**claims, **overrides}


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def _real_signing_key(config: StackConfig) -> str:
    """Identity's private key, read as the database owner: lets the test mint a token
    that is correctly signed but expired."""
    url = config.database_url(
        config.database(IDENTITY), user=config.postgres_user, password=config.postgres_password
    )
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        pem = await conn.fetchval(
            "SELECT private_key_pem FROM signing_keys WHERE retired_at IS NULL"
            " ORDER BY created_at DESC LIMIT 1"
        )
    finally:
        await conn.close()
    return str(pem)


async def _assert_rejected(api: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await api.get("/v1/contacts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


class TestForgedTokens:
    async def test_token_signed_by_another_key_is_rejected(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        attacker_key = ec.generate_private_key(ec.SECP256R1())
        forged = jwt.encode(
            _claims(tenant_a),
            attacker_key,
            algorithm="ES256",
            headers={"kid": _kid(tenant_a.access_token), "typ": "at+jwt"},
        )
        assert (await _assert_rejected(api, forged))["code"] == "invalid_token"

    async def test_tampered_claims_are_rejected(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        header, _, signature = tenant_a.access_token.split(".")
        tampered = ".".join([header, _b64(_claims(tenant_a, tenant=tenant_b.tenant_id)), signature])
        await _assert_rejected(api, tampered)

    async def test_expired_token_is_rejected(
        self, api: httpx.AsyncClient, stack: Stack, tenant_a: Account
    ) -> None:
        key = await _real_signing_key(stack.config)
        past = int(time.time()) - 3600
        expired = jwt.encode(
            _claims(tenant_a, iat=past - 900, exp=past),
            key,
            algorithm="ES256",
            headers={"kid": _kid(tenant_a.access_token), "typ": "at+jwt"},
        )
        assert (await _assert_rejected(api, expired))["code"] == "token_expired"

    async def test_alg_none_token_is_rejected(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        header = {"alg": "none", "typ": "at+jwt", "kid": _kid(tenant_a.access_token)}
        unsigned = f"{_b64(header)}.{_b64(_claims(tenant_a))}."
        await _assert_rejected(api, unsigned)

    async def test_missing_and_garbage_tokens_are_rejected(self, api: httpx.AsyncClient) -> None:
        assert (await api.get("/v1/contacts")).status_code == 401
        await _assert_rejected(api, "garbage")


class TestDirectServiceCalls:
    async def _list(
        self, stack: Stack, metadata: list[tuple[str, str]]
    ) -> contacts_pb2.ListContactsResponse:
        async with grpc.aio.insecure_channel(stack.config.address(CRM_CORE)) as channel:
            stub = contacts_pb2_grpc.ContactServiceStub(channel)
            response: contacts_pb2.ListContactsResponse = await stub.ListContacts(
                contacts_pb2.ListContactsRequest(), metadata=metadata, timeout=10
            )
            return response

    async def test_call_without_a_token_is_refused(self, stack: Stack, tenant_a: Account) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await self._list(stack, [("x-tenant-id", tenant_a.tenant_id)])
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_tenant_header_that_disagrees_with_the_token_is_refused(
        self, stack: Stack, tenant_a: Account, tenant_b: Account
    ) -> None:
        metadata = [
            ("authorization", f"Bearer {tenant_a.access_token}"),
            ("x-tenant-id", tenant_b.tenant_id),
        ]
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await self._list(stack, metadata)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_valid_token_and_matching_tenant_is_served(
        self, stack: Stack, tenant_a: Account
    ) -> None:
        metadata = [
            ("authorization", f"Bearer {tenant_a.access_token}"),
            ("x-tenant-id", tenant_a.tenant_id),
        ]
        assert list((await self._list(stack, metadata)).contacts) == []


ATTACKS = [
    "forged_signature",
    "alg_none",
    "hs256_with_public_key",
    "unknown_kid",
    "wrong_issuer",
    "wrong_audience",
    "expired",
    "crit_header",
]


async def _attack_token(attack: str, stack: Stack, account: Account) -> str:
    """A token crafted as an attacker would; the real key signs where that matters."""
    kid = _kid(account.access_token)
    headers = {"kid": kid, "typ": "at+jwt"}
    if attack == "forged_signature":
        return jwt.encode(
            _claims(account), ec.generate_private_key(ec.SECP256R1()), "ES256", headers
        )
    if attack == "alg_none":
        return f"{_b64({'alg': 'none', **headers})}.{_b64(_claims(account))}."
    if attack == "hs256_with_public_key":
        jwks = json.loads(
            (await httpx.AsyncClient().get(f"{stack.gateway_url}/.well-known/jwks.json")).text
        )
        secret = json.dumps(next(k for k in jwks["keys"] if k["kid"] == kid)).encode()
        signing_input = f"{_b64({'alg': 'HS256', **headers})}.{_b64(_claims(account))}"
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"
    key = await _real_signing_key(stack.config)
    claims = _claims(account)
    if attack == "unknown_kid":
        return jwt.encode(claims, key, "ES256", {**headers, "kid": "not-a-key"})
    if attack == "wrong_issuer":
        return jwt.encode({**claims, "iss": "someone-else"}, key, "ES256", headers)
    if attack == "wrong_audience":
        return jwt.encode({**claims, "aud": "another-api"}, key, "ES256", headers)
    if attack == "expired":
        past = int(time.time()) - 3600
        return jwt.encode({**claims, "iat": past - 900, "exp": past}, key, "ES256", headers)
    assert attack == "crit_header"
    return jwt.encode(claims, key, "ES256", {**headers, "crit": ["exp"]})


class TestEveryAttackAtEveryDoor:
    @pytest.mark.parametrize("attack", ATTACKS)
    async def test_rejected_at_the_gateway_and_by_the_service_directly(
        self, api: httpx.AsyncClient, stack: Stack, tenant_a: Account, attack: str
    ) -> None:
        token = await _attack_token(attack, stack, tenant_a)
        await _assert_rejected(api, token)
        metadata = [("authorization", f"Bearer {token}"), ("x-tenant-id", tenant_a.tenant_id)]
        async with grpc.aio.insecure_channel(stack.config.address(CRM_CORE)) as channel:
            stub = contacts_pb2_grpc.ContactServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ListContacts(
                    contacts_pb2.ListContactsRequest(), metadata=metadata, timeout=10
                )
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


class TestRevokedAccess:
    async def test_logged_out_sessions_access_token_is_refused_at_once(
        self, api: httpx.AsyncClient, stack: Stack, tenant_a: Account
    ) -> None:
        assert (await api.get("/v1/contacts", headers=tenant_a.headers)).status_code == 200
        await api.post("/v1/auth/logout", json={"refresh_token": tenant_a.refresh_token})
        statuses = []
        for _ in range(50):
            statuses.append((await api.get("/v1/contacts", headers=tenant_a.headers)).status_code)
            if statuses[-1] == 401:
                break
            await asyncio.sleep(0.1)
        assert statuses[-1] == 401, statuses
        metadata = [
            ("authorization", f"Bearer {tenant_a.access_token}"),
            ("x-tenant-id", tenant_a.tenant_id),
        ]
        codes = []
        async with grpc.aio.insecure_channel(stack.config.address(CRM_CORE)) as channel:
            stub = contacts_pb2_grpc.ContactServiceStub(channel)
            for _ in range(50):
                try:
                    await stub.ListContacts(
                        contacts_pb2.ListContactsRequest(), metadata=metadata, timeout=10
                    )
                    codes.append(grpc.StatusCode.OK)
                except grpc.aio.AioRpcError as refused:
                    codes.append(refused.code())
                    break
                await asyncio.sleep(0.1)
        assert codes[-1] == grpc.StatusCode.UNAUTHENTICATED, codes
