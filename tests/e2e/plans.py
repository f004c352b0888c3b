"""A tenant on a billing plan, as billing announces it, and a token that carries it.

The e2e plan's limit sits far below the default, so a burst meets it however slowly the
machine serves: a limit of L per second refuses a burst only when requests arrive faster
than L, and this machine's e2e client manages about 100 reads per second.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx

from crm.events.v1 import billing_pb2 as billing_events
from crm_kit.events.outbox import build_envelope
from crm_kit.timestamps import to_timestamp

from .bus import publish

# A plan the e2e gateway knows (GATEWAY_RATE_LIMIT_PLANS); no tenant is on it unless a
# test announces it, so the others keep the default limits.
E2E_PLAN = "e2e-metered"
E2E_PLAN_LIMIT_PER_SECOND = 10
PLAN_POLICY = f'"{E2E_PLAN}-principal";q={E2E_PLAN_LIMIT_PER_SECOND};w=1'


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


async def refresh_until(
    api: httpx.AsyncClient, refresh_token: str, *, want: str
) -> tuple[str, str, str]:
    """Refresh (rotating the refresh token each time) until a request with the new access
    token is limited by `want`, for up to about 10 s (identity consumes the event within
    a fetch). Returns the last policy seen, its access token and the refresh token still
    valid."""
    policy, access_token = "", ""
    for _ in range(40):
        refreshed = await api.post("/v1/auth/refresh", json={"refresh_token": refresh_token})
        assert refreshed.status_code == 200, refreshed.text
        refresh_token = refreshed.json()["refresh_token"]
        access_token = refreshed.json()["access_token"]
        headers = {"Authorization": f"Bearer {access_token}"}
        policy = (await api.get("/v1/contacts", headers=headers)).headers["ratelimit-policy"]
        if policy == want:
            break
        await asyncio.sleep(0.25)
    return policy, access_token, refresh_token
