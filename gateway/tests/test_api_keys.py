"""API keys at the gateway: the key format, the cache, and scopes on every route."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Annotated

import grpc
import httpx
import pytest
from fastapi import FastAPI, Security

from crm.events.v1 import envelope_pb2
from crm.events.v1 import identity_pb2 as identity_events
from crm.identity.v1 import api_keys_pb2
from crm_gateway.api_keys import ApiKeyAuthenticator, ApiKeyCache, ResolvedKey
from crm_gateway.problems import PROBLEM_MEDIA_TYPE, Problem
from crm_gateway.security import authenticated
from crm_kit.auth import api_key_format
from crm_kit.auth.tokens import AccessTokenVerifier, Principal
from crm_kit.context import RequestContext

pytestmark = pytest.mark.unit

TokenFactory = Callable[..., str]

CONTACT = {"first_name": "Grace"}


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def _mistyped(key: str, position: int) -> str:
    replacement = "b" if key[position] != "b" else "c"
    return key[:position] + replacement + key[position + 1 :]


class IdentityStandIn:
    """Answers ResolveApiKey as identity would, for the keys it was given."""

    def __init__(self, mint_token: TokenFactory, scopes: dict[str, list[str]]) -> None:
        self._mint_token = mint_token
        self._scopes = scopes
        self.calls = 0

    async def ResolveApiKey(  # noqa: N802 - gRPC method name
        self, request: api_keys_pb2.ResolveApiKeyRequest
    ) -> api_keys_pb2.ResolvedApiKey:
        self.calls += 1
        await asyncio.sleep(0.01)
        if request.key not in self._scopes:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNAUTHENTICATED,
                grpc.aio.Metadata(),
                grpc.aio.Metadata(),
                details="invalid API key",
            )
        token = self._mint_token(act="api_key", roles=[], scopes=self._scopes[request.key])
        return api_keys_pb2.ResolvedApiKey(access_token=token, expires_in=300)


async def _seed(
    app: FastAPI, mint_token: TokenFactory, scopes: list[str], *, tenant: str | None = None
) -> tuple[str, str]:
    """A key the gateway has already resolved (as after one call through identity)."""
    key = api_key_format.generate()
    claims = {"act": "api_key", "roles": [], "scopes": scopes}
    token = mint_token(**claims, **({"tenant": tenant} if tenant else {}))
    verifier: AccessTokenVerifier = app.state.verifier
    principal = await verifier.verify(token)
    authenticator: ApiKeyAuthenticator = app.state.api_keys
    authenticator.cache.put(
        api_key_format.key_hash(key),
        ResolvedKey(principal=principal, access_token=token, fresh_until=time.monotonic() + 60),
    )
    return key, token


def _entry(*, fresh_for: float) -> ResolvedKey:
    principal = Principal(
        tenant_id=uuid.uuid4(), user_id=uuid.uuid4(), roles=(), token_id="t", expires_at=0
    )
    return ResolvedKey(
        principal=principal, access_token="t", fresh_until=time.monotonic() + fresh_for
    )


class TestKeyFormat:
    def test_a_generated_key_is_well_formed(self) -> None:
        key = api_key_format.generate()

        assert key.startswith("crm_")
        assert len(key) == 40
        assert api_key_format.is_well_formed(key)
        assert api_key_format.display_prefix(key) == key[:8]

    def test_the_checksum_is_the_base62_crc32_of_the_random_part(self) -> None:
        # A fixed vector: keys already issued must keep validating forever.
        assert api_key_format.checksum("0" * 30) == "2C8GjS"
        assert api_key_format.is_well_formed("crm_" + "0" * 30 + "2C8GjS")

    def test_any_mistyped_character_is_rejected(self) -> None:
        key = api_key_format.generate()

        rejected = [
            api_key_format.is_well_formed(_mistyped(key, position)) for position in range(len(key))
        ]

        assert all(not accepted for accepted in rejected)

    @pytest.mark.parametrize(
        "candidate",
        [
            "",
            "crm_",
            "crm_" + "0" * 30 + "2C8Gj",
            "crm_" + "0" * 30 + "2C8GjSx",
            "CRM_" + "0" * 30 + "2C8GjS",
            "crm-" + "0" * 30 + "2C8GjS",
            "crm_" + "0" * 29 + "-2C8GjS",
            "crm_" + "0" * 29 + "\N{ARABIC-INDIC DIGIT ZERO}" + "2C8GjS",
        ],
        ids=["empty", "prefix-only", "short", "long", "case", "separator", "symbol", "unicode"],
    )
    def test_malformed_keys_are_rejected(self, candidate: str) -> None:
        assert not api_key_format.is_well_formed(candidate)

    def test_jwts_never_look_like_keys(self, mint_token: TokenFactory) -> None:
        assert not api_key_format.looks_like_api_key(mint_token())

    @pytest.mark.parametrize(
        ("granted", "required", "allowed"),
        [
            (("contacts:read",), "contacts:read", True),
            (("contacts:write",), "contacts:read", True),
            (("contacts:read",), "contacts:write", False),
            (("pipelines:write",), "contacts:read", False),
            ((), "contacts:read", False),
        ],
    )
    def test_write_implies_read_within_a_family(
        self, granted: tuple[str, ...], required: str, allowed: bool
    ) -> None:
        assert api_key_format.grants(granted, required) is allowed


class TestAuthentication:
    async def test_a_mistyped_key_is_401_without_any_upstream_call(
        self, client: httpx.AsyncClient
    ) -> None:
        # With no upstream listening, any call would answer 503.
        mistyped = _mistyped(api_key_format.generate(), 12)

        response = await client.get("/v1/contacts", headers=_bearer(mistyped))

        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json()["code"] == "invalid_api_key"

    async def test_an_unknown_well_formed_key_is_asked_of_identity(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/v1/contacts", headers=_bearer(api_key_format.generate()))

        assert response.status_code == 503

    @pytest.mark.parametrize(
        "claims",
        [{"act": "admin"}, {"act": ["api_key"]}, {"act": "api_key", "scopes": "contacts:read"}],
        ids=["unknown-actor", "actor-not-a-string", "scopes-not-a-list"],
    )
    async def test_malformed_actor_or_scope_claims_are_401(
        self, client: httpx.AsyncClient, mint_token: TokenFactory, claims: dict[str, object]
    ) -> None:
        response = await client.get("/v1/contacts", headers=_bearer(mint_token(**claims)))

        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"

    async def test_the_context_is_bound_as_for_a_user(
        self, app: FastAPI, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        tenant = str(uuid.uuid4())
        key, token = await _seed(app, mint_token, ["contacts:read"], tenant=tenant)
        seen: list[RequestContext] = []

        async def whoami(
            caller: Annotated[RequestContext, Security(authenticated, scopes=["contacts:read"])],
        ) -> dict[str, str]:
            seen.append(caller)
            return {}

        app.add_api_route("/test/whoami", whoami)

        response = await client.get("/test/whoami", headers=_bearer(key))

        assert response.status_code == 200
        [ctx] = seen
        assert str(ctx.tenant_id) == tenant
        assert ctx.actor_kind == "api_key"
        assert ctx.roles == ()
        assert ctx.scopes == ("contacts:read",)
        assert ctx.access_token == token
        assert ctx.session_id is None
        assert response.headers["ratelimit-policy"].startswith('"default"')

    async def test_each_key_has_its_own_rate_limit(
        self, app: FastAPI, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        busy, _ = await _seed(app, mint_token, ["pipelines:read"])
        quiet, _ = await _seed(app, mint_token, ["pipelines:read"])

        statuses = [
            (await client.get("/v1/pipelines", headers=_bearer(busy))).status_code for _ in range(4)
        ]
        other = await client.get("/v1/pipelines", headers=_bearer(quiet))

        assert statuses == [503, 503, 503, 429]
        assert other.status_code == 503


class TestScopes:
    @pytest.mark.parametrize(
        ("scopes", "method", "path"),
        [
            (["contacts:read"], "POST", "/v1/contacts"),
            (["contacts:read"], "PATCH", "/v1/contacts/0b5e0c3e-0000-4000-8000-000000000001"),
            (["contacts:read"], "DELETE", "/v1/contacts/0b5e0c3e-0000-4000-8000-000000000001"),
            (["contacts:write"], "GET", "/v1/pipelines"),
            (["pipelines:read"], "GET", "/v1/contacts"),
            (["contacts:write"], "GET", "/v1/me/sessions"),
            (["contacts:write"], "GET", "/v1/api-keys"),
        ],
    )
    async def test_a_key_without_the_routes_scope_is_403(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        mint_token: TokenFactory,
        scopes: list[str],
        method: str,
        path: str,
    ) -> None:
        key, _ = await _seed(app, mint_token, scopes)

        response = await client.request(method, path, json=CONTACT, headers=_bearer(key))

        assert response.status_code == 403
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json()["code"] == "insufficient_scope"
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]

    @pytest.mark.parametrize(
        ("scopes", "method", "path"),
        [
            (["contacts:read"], "GET", "/v1/contacts"),
            (["contacts:read"], "GET", "/v1/contacts/0b5e0c3e-0000-4000-8000-000000000001"),
            (["contacts:write"], "GET", "/v1/contacts"),
            (["contacts:write"], "POST", "/v1/contacts"),
            (["pipelines:read"], "GET", "/v1/pipelines"),
        ],
    )
    async def test_a_key_with_the_scope_passes_to_the_upstream(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        mint_token: TokenFactory,
        scopes: list[str],
        method: str,
        path: str,
    ) -> None:
        key, _ = await _seed(app, mint_token, scopes)

        response = await client.request(method, path, json=CONTACT, headers=_bearer(key))

        # Past authentication and scopes; nothing listens upstream.
        assert response.status_code == 503

    @pytest.mark.parametrize(
        ("method", "path"),
        [("POST", "/v1/contacts"), ("GET", "/v1/pipelines"), ("GET", "/v1/me/sessions")],
    )
    async def test_users_are_not_limited_by_scopes(
        self, client: httpx.AsyncClient, mint_token: TokenFactory, method: str, path: str
    ) -> None:
        response = await client.request(
            method, path, json=CONTACT, headers=_bearer(mint_token(roles=["member"]))
        )

        assert response.status_code == 503

    async def test_openapi_documents_both_schemes_and_the_scopes(
        self, client: httpx.AsyncClient
    ) -> None:
        document = (await client.get("/openapi.json")).json()

        schemes = document["components"]["securitySchemes"]
        assert {"HTTPBearer", "ApiKey"} <= schemes.keys()
        assert "crm_" in schemes["ApiKey"]["description"]
        security = document["paths"]["/v1/contacts"]["post"]["security"]
        assert {"ApiKey": ["contacts:write"]} in security


class TestCache:
    async def test_a_revocation_event_drops_the_key(
        self, app: FastAPI, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        key, _ = await _seed(app, mint_token, ["contacts:read"])
        envelope = envelope_pb2.Envelope(type="identity.api_key.revoked")
        envelope.payload.Pack(identity_events.ApiKeyChanged(key_hash=api_key_format.key_hash(key)))

        app.state.api_keys.cache.apply(envelope)
        response = await client.get("/v1/contacts", headers=_bearer(key))

        # No longer cached: the gateway asks identity again (unreachable here).
        assert response.status_code == 503

    def test_a_revoked_key_is_never_cached_again(self) -> None:
        cache = ApiKeyCache()
        cache.drop("a" * 64)

        cache.put("a" * 64, _entry(fresh_for=60))

        assert cache.get("a" * 64) is None

    def test_stale_entries_are_not_served_and_the_size_is_bounded(self) -> None:
        cache = ApiKeyCache(max_entries=2)
        stale, fresh = _entry(fresh_for=-1), _entry(fresh_for=60)
        cache.put("stale", stale)
        assert cache.get("stale") is None

        for name in ("one", "two", "three"):
            cache.put(name, fresh)

        assert len(cache) == 2
        assert cache.get("one") is None
        assert cache.get("three") is fresh

    async def test_a_burst_on_a_cold_key_resolves_once(
        self, verifier: AccessTokenVerifier, mint_token: TokenFactory
    ) -> None:
        key = api_key_format.generate()
        identity = IdentityStandIn(mint_token, {key: ["contacts:read"]})
        authenticator = ApiKeyAuthenticator(ApiKeyCache())

        resolved = await asyncio.gather(
            *(
                authenticator.authenticate(key, resolver=identity, verifier=verifier)
                for _ in range(10)
            )
        )
        again = await authenticator.authenticate(key, resolver=identity, verifier=verifier)

        assert identity.calls == 1
        assert {r.access_token for r in resolved} == {again.access_token}
        assert again.principal.scopes == ("contacts:read",)

    async def test_a_key_identity_refuses_is_401_and_not_cached(
        self, verifier: AccessTokenVerifier, mint_token: TokenFactory
    ) -> None:
        identity = IdentityStandIn(mint_token, {})
        authenticator = ApiKeyAuthenticator(ApiKeyCache())
        key = api_key_format.generate()

        for _ in range(2):
            with pytest.raises(Problem) as refused:
                await authenticator.authenticate(key, resolver=identity, verifier=verifier)
            assert (refused.value.status, refused.value.code) == (401, "invalid_api_key")

        assert identity.calls == 2
        assert len(authenticator.cache) == 0
