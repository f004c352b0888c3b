"""Rate limits per billing plan: the token's `plan` claim picks them, with no lookup."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as redis
from fastapi import FastAPI
from pydantic import ValidationError
from pydantic_settings import SettingsError

from crm_devstack.testing import TEST_REDIS_URL
from crm_gateway.app import create_app
from crm_gateway.ratelimit import KEY_PREFIX
from crm_gateway.settings import GatewaySettings, PlanRateLimitSpecs
from crm_kit.auth.tokens import AccessTokenVerifier

from .conftest import gateway_settings

pytestmark = pytest.mark.unit

TokenFactory = Callable[..., str]

# The default plan allows 3/second per user (conftest); "pro" 5, "team" only its tenant.
PLANS = {
    "pro": PlanRateLimitSpecs(principal="5/second", tenant="50/second"),
    "team": PlanRateLimitSpecs(tenant="2/second"),
}


def plan_settings(**overrides: object) -> GatewaySettings:
    return gateway_settings().model_copy(update={"rate_limit_plans": PLANS, **overrides})


@pytest_asyncio.fixture
async def plan_app(verifier: AccessTokenVerifier) -> AsyncIterator[FastAPI]:
    app = create_app(plan_settings())
    app.state.verifier = verifier
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture
async def plan_client(plan_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=plan_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _burst(client: httpx.AsyncClient, token: str, count: int) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    return [await client.get("/v1/pipelines", headers=headers) for _ in range(count)]


class TestPlanLimits:
    async def test_a_caller_on_a_configured_plan_gets_its_limit_and_policy(
        self, plan_client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        responses = await _burst(plan_client, mint_token(plan="pro"), 6)

        # No upstream behind this gateway: allowed requests end in 503, refused in 429.
        assert [r.status_code for r in responses] == [503] * 5 + [429]
        assert responses[0].headers["ratelimit-policy"] == '"pro-principal";q=5;w=1'
        assert responses[0].headers["ratelimit"].startswith('"pro-principal";r=4;')
        assert responses[5].headers["ratelimit-policy"] == '"pro-principal";q=5;w=1'

    async def test_a_plan_limit_left_out_is_the_default_plans(
        self, plan_client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        responses = await _burst(plan_client, mint_token(plan="team"), 3)

        # "team" sets only its tenant limit (2/second), which refuses the third request;
        # its per-user limit is the default plan's 3/second under the plan's own name.
        assert [r.status_code for r in responses] == [503, 503, 429]
        assert responses[0].headers["ratelimit-policy"] == '"team-principal";q=3;w=1'
        assert responses[2].headers["ratelimit-policy"] == '"team-tenant";q=2;w=1'

    @pytest.mark.parametrize("plan", ["enterprise", ""], ids=["unknown-plan", "empty-plan"])
    async def test_an_unknown_or_empty_plan_gets_the_default_limits(
        self, plan_client: httpx.AsyncClient, mint_token: TokenFactory, plan: str
    ) -> None:
        responses = await _burst(plan_client, mint_token(plan=plan), 4)

        assert [r.status_code for r in responses] == [503, 503, 503, 429]
        assert responses[0].headers["ratelimit-policy"] == '"default";q=3;w=1'

    async def test_a_token_without_a_plan_claim_gets_the_default_limits(
        self, plan_client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        responses = await _burst(plan_client, mint_token(), 4)

        assert [r.status_code for r in responses] == [503, 503, 503, 429]

    async def test_auth_endpoint_limits_do_not_depend_on_plans(
        self, plan_client: httpx.AsyncClient
    ) -> None:
        response = await plan_client.post("/v1/auth/login", json={"email": "", "password": "x"})

        assert response.headers["ratelimit-policy"] == '"auth";q=2;w=60'


class TestPlanLimitsInRedis:
    async def test_counters_are_kept_under_the_plans_policy_names(
        self, verifier: AccessTokenVerifier, mint_token: TokenFactory
    ) -> None:
        app = create_app(plan_settings(rate_limit_storage_url=TEST_REDIS_URL))
        app.state.verifier = verifier
        user, tenant = uuid.uuid4(), uuid.uuid4()
        token = mint_token(plan="pro", sub=str(user), tenant=str(tenant))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
        ):
            responses = await _burst(client, token, 6)
        store = redis.from_url(TEST_REDIS_URL)
        try:
            keys = {key.decode() for key in await store.keys(f"{KEY_PREFIX}*{user}")} | {
                key.decode() for key in await store.keys(f"{KEY_PREFIX}*{tenant}")
            }
        finally:
            await store.aclose()

        assert [r.status_code for r in responses] == [503] * 5 + [429]
        assert keys == {
            f"{KEY_PREFIX}pro-principal:user:{user}",
            f"{KEY_PREFIX}pro-tenant:tenant:{tenant}",
        }


class TestPlanSettings:
    def test_plans_are_read_from_json_in_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        plans = {"pro": {"principal": "300/second", "tenant": "3000/second"}}
        monkeypatch.setenv("GATEWAY_RATE_LIMIT_PLANS", json.dumps(plans))

        settings = GatewaySettings()

        assert settings.rate_limit_plans == {
            "pro": PlanRateLimitSpecs(principal="300/second", tenant="3000/second")
        }

    @pytest.mark.parametrize(
        ("plans", "complaint"),
        [
            pytest.param({"pro": {"principal": "300/sec"}}, "300/sec", id="bad-spec"),
            pytest.param({"pro": {"tenant": "0/second"}}, "0/second", id="zero-limit"),
            pytest.param({"pro": {"per_ip": "5/second"}}, "per_ip", id="unknown-limit"),
            pytest.param({"": {"principal": "5/second"}}, "plan name", id="empty-name"),
            pytest.param({"pro plan": {}}, "plan name", id="name-with-space"),
        ],
    )
    def test_a_bad_plan_fails_at_startup_naming_the_problem(
        self, monkeypatch: pytest.MonkeyPatch, plans: dict[str, object], complaint: str
    ) -> None:
        monkeypatch.setenv("GATEWAY_RATE_LIMIT_PLANS", json.dumps(plans))

        with pytest.raises(ValidationError) as excinfo:
            GatewaySettings()

        assert "rate_limit_plans" in str(excinfo.value)
        assert complaint in str(excinfo.value)

    def test_plans_that_are_not_json_fail_at_startup(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("GATEWAY_RATE_LIMIT_PLANS", "pro=300/second")

        with pytest.raises(SettingsError, match="rate_limit_plans"):
            GatewaySettings()
