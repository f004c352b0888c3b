"""Endpoints: subscribing, secrets kept encrypted and shown once, rotation, isolation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_devstack.testing import tenant_tables_security
from crm_devstack.webhook_receiver import WebhookReceiver
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, NotFound, PreconditionFailed
from crm_messaging.webhooks import endpoints
from crm_messaging.webhooks.endpoints import EndpointRules
from crm_messaging.webhooks.signing import SecretBox

from .factories import create_endpoint

pytestmark = pytest.mark.integration


class TestSubscribe:
    async def test_secret_is_returned_once_and_stored_only_encrypted(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        box: SecretBox,
        receiver: WebhookReceiver,
    ) -> None:
        endpoint, secret = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/a"), event_types=("*",)
        )
        assert secret.startswith("whsec_")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            stored = await endpoints.get(session, endpoint_id=endpoint.id)
            raw = await session.scalar(
                text("SELECT secret_encrypted FROM webhook_endpoints WHERE id = :id"),
                {"id": endpoint.id},
            )
        assert secret.encode() not in raw
        assert endpoints.signing_secrets(stored, box, now=utcnow()) == [secret]

    async def test_private_destination_is_refused_without_the_allowlist(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        box: SecretBox,
        receiver: WebhookReceiver,
    ) -> None:
        with pytest.raises(InvalidArgument) as refused:
            await create_endpoint(
                factory, tenant=tenant, rules=EndpointRules(box=box), url=receiver.url("/a")
            )
        assert refused.value.code == "forbidden_address"

    async def test_without_a_key_webhooks_are_not_configured(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        with pytest.raises(PreconditionFailed) as refused:
            await create_endpoint(
                factory, tenant=tenant, rules=EndpointRules(box=None), url="https://example.com/"
            )
        assert refused.value.code == "webhooks_not_configured"

    async def test_unknown_event_type_is_refused(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
    ) -> None:
        with pytest.raises(InvalidArgument) as refused:
            await create_endpoint(
                factory,
                tenant=tenant,
                rules=rules,
                url=receiver.url("/a"),
                event_types=("gateway.api_request.logged",),
            )
        assert refused.value.code == "unknown_event_type"


class TestRotation:
    async def test_previous_secret_signs_until_the_overlap_ends(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        box: SecretBox,
        receiver: WebhookReceiver,
    ) -> None:
        endpoint, old = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/a")
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            rotated, new = await endpoints.rotate_secret(
                session, rules=rules, endpoint_id=endpoint.id, overlap=timedelta(hours=2)
            )
        assert new != old
        now = utcnow()
        assert endpoints.signing_secrets(rotated, box, now=now) == [new, old]
        later = now + timedelta(hours=2, seconds=1)
        assert endpoints.signing_secrets(rotated, box, now=later) == [new]

    async def test_zero_overlap_drops_the_old_secret_at_once(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        box: SecretBox,
        receiver: WebhookReceiver,
    ) -> None:
        endpoint, _ = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/a")
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            rotated, new = await endpoints.rotate_secret(
                session, rules=rules, endpoint_id=endpoint.id, overlap=timedelta(0)
            )
        assert endpoints.signing_secrets(rotated, box, now=utcnow()) == [new]

    async def test_overlap_beyond_a_week_is_refused(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
    ) -> None:
        endpoint, _ = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/a")
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(InvalidArgument):
                await endpoints.rotate_secret(
                    session, rules=rules, endpoint_id=endpoint.id, overlap=timedelta(days=8)
                )


class TestIsolation:
    async def test_another_tenants_endpoint_is_not_found(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
        rules: EndpointRules,
        receiver: WebhookReceiver,
    ) -> None:
        endpoint, _ = await create_endpoint(
            factory, tenant=tenant, rules=rules, url=receiver.url("/a")
        )
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            with pytest.raises(NotFound):
                await endpoints.get(session, endpoint_id=endpoint.id)
            with pytest.raises(NotFound):
                await endpoints.change(session, rules=rules, endpoint_id=endpoint.id, enabled=False)
            with pytest.raises(NotFound):
                await endpoints.remove(session, endpoint_id=endpoint.id)
            assert await endpoints.list_all(session) == []

    async def test_every_tenant_owned_table_has_forced_rls_and_a_policy(
        self, database_urls: tuple[str, str]
    ) -> None:
        tables = await tenant_tables_security(database_urls[1])
        tables.pop("outbox")
        assert tables == {
            "webhook_endpoints": (True, True, 1),
            # Plus the dispatcher's read-only policy.
            "webhook_deliveries": (True, True, 2),
            "webhook_attempts": (True, True, 1),
        }
