"""A plan billing announces on the bus reaches the gateway's limits at the next token."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from .conftest import DEFAULT_LIMIT_PER_SECOND, Account
from .plans import E2E_PLAN, E2E_PLAN_LIMIT_PER_SECOND, PLAN_POLICY, announce_plan, refresh_until

pytestmark = pytest.mark.e2e

DEFAULT_POLICY = f'"default";q={DEFAULT_LIMIT_PER_SECOND};w=1'


class TestPlanChange:
    async def test_next_token_after_a_plan_change_gets_the_plans_limits(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        before = await api.get("/v1/contacts", headers=tenant_a.headers)
        await announce_plan(tenant_a.tenant_id, E2E_PLAN)

        policy, access_token, _ = await refresh_until(api, tenant_a.refresh_token, want=PLAN_POLICY)
        headers = {"Authorization": f"Bearer {access_token}"}
        # The token minted before the change keeps the default plan until it expires.
        old_token = await api.get("/v1/contacts", headers=tenant_a.headers)

        assert before.headers["ratelimit-policy"] == DEFAULT_POLICY
        assert policy == PLAN_POLICY
        assert old_token.headers["ratelimit-policy"] == DEFAULT_POLICY
        burst = await asyncio.gather(
            *(
                api.get("/v1/contacts", headers=headers)
                for _ in range(6 * E2E_PLAN_LIMIT_PER_SECOND)
            )
        )
        refused = [r for r in burst if r.status_code == 429]
        assert refused, "the plan's limit never refused the burst"
        assert refused[0].headers["ratelimit-policy"] == PLAN_POLICY

    async def test_back_to_the_default_plan(
        self, api: httpx.AsyncClient, tenant_b: Account
    ) -> None:
        await announce_plan(tenant_b.tenant_id, E2E_PLAN)
        upgraded, _, refresh_token = await refresh_until(
            api, tenant_b.refresh_token, want=PLAN_POLICY
        )
        await announce_plan(tenant_b.tenant_id, "")

        policy, _, _ = await refresh_until(api, refresh_token, want=DEFAULT_POLICY)

        assert upgraded == PLAN_POLICY
        assert policy == DEFAULT_POLICY
