"""Rate limits: auth endpoints per client IP, the API per user; refusals are 429 problems."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from crm_gateway.app import create_app
from crm_gateway.problems import PROBLEM_MEDIA_TYPE, Problem
from crm_gateway.ratelimit import RateLimiterService, RateLimitPolicy

from .conftest import gateway_settings

pytestmark = pytest.mark.unit

TokenFactory = Callable[..., str]

EMPTY_LOGIN = {"email": "", "password": "whatever"}


class TestAuthEndpointLimit:
    async def test_third_login_within_the_window_is_429(self, client: httpx.AsyncClient) -> None:
        first = await client.post("/v1/auth/login", json=EMPTY_LOGIN)
        second = await client.post("/v1/auth/login", json=EMPTY_LOGIN)
        third = await client.post("/v1/auth/login", json=EMPTY_LOGIN)

        # An empty email is refused by validation, never reaching identity.
        assert (first.status_code, second.status_code) == (422, 422)
        assert third.status_code == 429
        assert third.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert third.json()["code"] == "rate_limited"
        assert 1 <= int(third.headers["retry-after"]) <= 60
        assert third.headers["ratelimit-policy"] == '"auth";q=2;w=60'
        assert third.headers["ratelimit"].startswith('"auth";r=0;t=')

    async def test_limit_is_shared_by_every_auth_endpoint(self, client: httpx.AsyncClient) -> None:
        await client.post("/v1/auth/login", json=EMPTY_LOGIN)
        await client.post("/v1/auth/refresh", json={"refresh_token": ""})

        response = await client.post("/v1/auth/signup", json={})

        assert response.status_code == 429


class TestApiLimit:
    async def test_authenticated_request_reaches_the_upstream_and_is_503(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        response = await client.get(
            "/v1/contacts", headers={"Authorization": f"Bearer {mint_token()}"}
        )

        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.headers["retry-after"] == "2"
        assert response.json()["code"] == "unavailable"

    async def test_error_after_the_limit_check_still_carries_ratelimit_headers(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        response = await client.get(
            "/v1/contacts", headers={"Authorization": f"Bearer {mint_token()}"}
        )

        assert response.status_code == 503
        assert response.headers["ratelimit-policy"] == '"default";q=3;w=1'
        assert response.headers["ratelimit"].startswith('"default";r=2;t=')

    async def test_fourth_request_in_a_second_from_one_user_is_429(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        headers = {"Authorization": f"Bearer {mint_token()}"}

        statuses = []
        for _ in range(4):
            statuses.append((await client.get("/v1/pipelines", headers=headers)).status_code)

        assert statuses == [503, 503, 503, 429]

    async def test_users_are_limited_separately(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        busy = {"Authorization": f"Bearer {mint_token()}"}
        for _ in range(3):
            await client.get("/v1/pipelines", headers=busy)

        other = await client.get(
            "/v1/pipelines", headers={"Authorization": f"Bearer {mint_token()}"}
        )

        assert other.status_code == 503


class TestRateLimiterService:
    def test_policy_header(self) -> None:
        policy = RateLimitPolicy.parse("default", "100/second")

        assert policy.header() == '"default";q=100;w=1'

    async def test_check_counts_down_then_refuses(self) -> None:
        limiter = RateLimiterService("memory://")
        policy = RateLimitPolicy.parse("auth", "2/minute")
        key = f"ip:{uuid.uuid4()}"

        first = await limiter.check(policy, key)
        second = await limiter.check(policy, key)
        with pytest.raises(Problem) as refused:
            await limiter.check(policy, key)

        assert first["RateLimit"].startswith('"auth";r=1;')
        assert second["RateLimit"].startswith('"auth";r=0;')
        assert refused.value.status == 429
        assert refused.value.headers["RateLimit-Policy"] == '"auth";q=2;w=60'
        assert int(refused.value.headers["Retry-After"]) >= 1


class TestPerAccountLimit:
    async def test_one_account_is_limited_apart_from_the_ip(self) -> None:
        settings = gateway_settings().model_copy(
            update={"rate_limit_auth": "100/minute", "rate_limit_auth_account": "2/minute"}
        )
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
        ):
            victim = {"email": "Victim@Example.com", "password": "guess number n"}
            guesses = [await client.post("/v1/auth/login", json=victim) for _ in range(3)]
            other = await client.post(
                "/v1/auth/login", json={"email": "someone@example.com", "password": "x" * 9}
            )

        # No identity behind this gateway: allowed attempts end in 503, refused in 429.
        assert [g.status_code for g in guesses] == [503, 503, 429]
        assert guesses[2].headers["ratelimit-policy"] == '"auth-account";q=2;w=60'
        assert other.status_code == 503
