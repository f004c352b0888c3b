"""A plan billing announces on the bus reaches the gateway's limits at the next token."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from crm.events.v1 import billing_pb2 as billing_events
from crm_kit.events.outbox import build_envelope
from crm_kit.timestamps import to_timestamp

from .bus import publish
from .conftest import DEFAULT_LIMIT_PER_SECOND, E2E_PLAN, E2E_PLAN_LIMIT_PER_SECOND, Account

pytestmark = pytest.mark.e2e

PLAN_POLICY = f'"{E2E_PLAN}-principal";q={E2E_PLAN_LIMIT_PER_SECOND};w=1'
DEFAULT_POLICY = f'"default";q={DEFAULT_LIMIT_PER_SECOND};w=1'


async def announce_plan(tenant_id: str, plan: str) -> None:
    """billing.plan.changed, as billing's outbox relay will publish it."""
    await publish(
        build_envelope(
            event_type="billing.plan.changed",
            source="billing",
            tenant_id=uuid.UUID(tenant_id),
            payload=billing_events.PlanChanged(
                tenant_id=tenant_id, plan=plan, changed_at=to_timestamp(datetime.now(UTC))
            ),
        )
    )


async def policy_after_refresh(
    api: httpx.AsyncClient, refresh_token: str, *, want: str
) -> tuple[str, dict[str, str], str]:
    """Refresh (rotating the refresh token each time) until a request with the new access
    token is limited by `want`, for up to about 10 s (identity consumes the event within
    a fetch). Returns the last policy seen, the headers to call with, and the refresh
    token still valid."""
    policy, headers = "", {}
    for _ in range(40):
        refreshed = await api.post("/v1/auth/refresh", json={"refresh_token": refresh_token})
        assert refreshed.status_code == 200, refreshed.text
        refresh_token = refreshed.json()["refresh_token"]
        headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        policy = (await api.get("/v1/contacts", headers=headers)).headers["ratelimit-policy"]
        if policy == want:
            break
        await asyncio.sleep(0.25)
    return policy, headers, refresh_token


class TestPlanChange:
    async def test_next_token_after_a_plan_change_gets_the_plans_limits(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        before = await api.get("/v1/contacts", headers=tenant_a.headers)
        await announce_plan(tenant_a.tenant_id, E2E_PLAN)

        policy, headers, _ = await policy_after_refresh(
            api, tenant_a.refresh_token, want=PLAN_POLICY
        )
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
        upgraded, _, refresh_token = await policy_after_refresh(
            api, tenant_b.refresh_token, want=PLAN_POLICY
        )
        await announce_plan(tenant_b.tenant_id, "")

        policy, _, _ = await policy_after_refresh(api, refresh_token, want=DEFAULT_POLICY)

        assert upgraded == PLAN_POLICY
        assert policy == DEFAULT_POLICY
