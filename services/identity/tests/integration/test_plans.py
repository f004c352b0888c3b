"""billing.plan.changed -> the tenant's plan, and the `plan` claim of every token minted after."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from crm.events.v1 import billing_pb2 as billing_events
from crm.events.v1 import envelope_pb2
from crm.identity.v1 import api_keys_pb2
from crm_identity.dependencies import IdentityDependencies
from crm_identity.entrypoints.consumers import build_consumer
from crm_identity.entrypoints.grpc_api_keys import ApiKeyServiceServicer
from crm_identity.entrypoints.grpc_identity import IdentityServicer
from crm_identity.models import Tenant
from crm_identity.settings import IdentitySettings
from crm_kit.context import RequestContext, bind_context
from crm_kit.db.session import unit_of_work
from crm_kit.events.consumer import EventConsumer
from crm_kit.events.outbox import build_envelope
from crm_kit.timestamps import to_timestamp

from .factories import CONTEXT, login, refresh, signup, unique_email

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def plan_changed(
    tenant_id: str, plan: str, changed_at: datetime, *, envelope_tenant: str | None = None
) -> envelope_pb2.Envelope:
    """The envelope billing publishes."""
    return build_envelope(
        event_type="billing.plan.changed",
        source="billing",
        tenant_id=uuid.UUID(envelope_tenant or tenant_id),
        payload=billing_events.PlanChanged(
            tenant_id=tenant_id, plan=plan, changed_at=to_timestamp(changed_at)
        ),
    )


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


@pytest.fixture
def consumer(servicer: IdentityServicer) -> EventConsumer:
    return build_consumer(servicer.factory)


@pytest.fixture
def api_keys(servicer: IdentityServicer) -> ApiKeyServiceServicer:
    return ApiKeyServiceServicer(
        IdentityDependencies(
            factory=servicer.factory,
            settings=IdentitySettings(),
            policies=servicer.policies,
            reset=servicer.reset,
        )
    )


async def _plan(servicer: IdentityServicer, tenant_id: str) -> tuple[str, datetime | None]:
    tenant = uuid.UUID(tenant_id)
    async with unit_of_work(servicer.factory, tenant_id=tenant) as session:
        row = (
            await session.execute(
                select(Tenant.plan, Tenant.plan_changed_at).where(Tenant.id == tenant)
            )
        ).one()
    return row[0], row[1]


async def _api_key_token(api_keys: ApiKeyServiceServicer, tenant_id: str, owner_id: str) -> str:
    owner = RequestContext(
        tenant_id=uuid.UUID(tenant_id), user_id=uuid.UUID(owner_id), roles=("owner",)
    )
    with bind_context(owner):
        created = await api_keys.CreateApiKey(
            api_keys_pb2.CreateApiKeyRequest(name="Zapier", scopes=["contacts:read"]), CONTEXT
        )
    with bind_context(RequestContext(actor_kind="anonymous")):
        resolved = await api_keys.ResolveApiKey(
            api_keys_pb2.ResolveApiKeyRequest(key=created.key), CONTEXT
        )
    return resolved.access_token


class TestPlanChangedConsumer:
    async def test_a_new_tenant_is_on_the_default_plan(self, servicer: IdentityServicer) -> None:
        created = await signup(servicer, email=unique_email())

        assert await _plan(servicer, created.tenant_id) == ("", None)

    async def test_applies_a_plan_change(
        self, servicer: IdentityServicer, consumer: EventConsumer
    ) -> None:
        created = await signup(servicer, email=unique_email())

        assert await consumer.apply(plan_changed(created.tenant_id, "pro", T0)) is True

        assert await _plan(servicer, created.tenant_id) == ("pro", T0)

    async def test_an_older_change_arriving_late_does_not_overwrite_a_newer_one(
        self, servicer: IdentityServicer, consumer: EventConsumer
    ) -> None:
        created = await signup(servicer, email=unique_email())
        await consumer.apply(plan_changed(created.tenant_id, "enterprise", T0 + timedelta(hours=1)))

        await consumer.apply(plan_changed(created.tenant_id, "pro", T0))

        assert await _plan(servicer, created.tenant_id) == ("enterprise", T0 + timedelta(hours=1))

    async def test_a_redelivered_event_does_not_undo_a_later_change(
        self, servicer: IdentityServicer, consumer: EventConsumer
    ) -> None:
        created = await signup(servicer, email=unique_email())
        first = plan_changed(created.tenant_id, "pro", T0)
        await consumer.apply(first)
        await consumer.apply(plan_changed(created.tenant_id, "", T0 + timedelta(minutes=5)))

        assert await consumer.apply(first) is False

        assert await _plan(servicer, created.tenant_id) == ("", T0 + timedelta(minutes=5))

    async def test_a_republished_change_with_the_same_time_keeps_the_first(
        self, servicer: IdentityServicer, consumer: EventConsumer
    ) -> None:
        created = await signup(servicer, email=unique_email())
        await consumer.apply(plan_changed(created.tenant_id, "pro", T0))

        await consumer.apply(plan_changed(created.tenant_id, "team", T0))

        assert await _plan(servicer, created.tenant_id) == ("pro", T0)

    async def test_a_change_naming_another_tenant_than_its_envelope_is_ignored(
        self, servicer: IdentityServicer, consumer: EventConsumer
    ) -> None:
        victim = await signup(servicer, email=unique_email())
        other = await signup(servicer, email=unique_email())

        applied = await consumer.apply(
            plan_changed(victim.tenant_id, "pro", T0, envelope_tenant=other.tenant_id)
        )

        assert applied is True  # consumed (acked), so it does not come back forever
        assert await _plan(servicer, victim.tenant_id) == ("", None)
        assert await _plan(servicer, other.tenant_id) == ("", None)

    async def test_a_plan_name_too_long_to_store_is_ignored(
        self, servicer: IdentityServicer, consumer: EventConsumer
    ) -> None:
        created = await signup(servicer, email=unique_email())

        assert await consumer.apply(plan_changed(created.tenant_id, "p" * 51, T0)) is True

        assert await _plan(servicer, created.tenant_id) == ("", None)


class TestPlanClaim:
    async def test_signup_token_carries_the_default_plan(self, servicer: IdentityServicer) -> None:
        created = await signup(servicer, email=unique_email())

        assert claims(created.tokens.access_token)["plan"] == ""

    async def test_login_and_refresh_after_a_change_carry_the_new_plan(
        self, servicer: IdentityServicer, consumer: EventConsumer
    ) -> None:
        email = unique_email()
        created = await signup(servicer, email=email)
        await consumer.apply(plan_changed(created.tenant_id, "pro", T0))

        logged_in = await login(servicer, email)
        refreshed = await refresh(servicer, created.tokens.refresh_token)

        assert claims(logged_in.access_token)["plan"] == "pro"
        assert claims(refreshed.access_token)["plan"] == "pro"

    async def test_api_key_token_carries_the_tenants_plan(
        self,
        servicer: IdentityServicer,
        consumer: EventConsumer,
        api_keys: ApiKeyServiceServicer,
    ) -> None:
        created = await signup(servicer, email=unique_email())
        before = await _api_key_token(api_keys, created.tenant_id, created.user_id)
        await consumer.apply(plan_changed(created.tenant_id, "enterprise", T0))

        after = await _api_key_token(api_keys, created.tenant_id, created.user_id)

        assert claims(before)["plan"] == ""
        assert claims(after)["plan"] == "enterprise"
        assert claims(after)["act"] == "api_key"
