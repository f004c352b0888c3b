"""identity.tenant.created -> the tenant's default pipeline, applied exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import envelope_pb2
from crm.events.v1 import identity_pb2 as identity_events
from crm_core.entrypoints.consumers import build_consumer, on_tenant_created
from crm_core.models import ProcessedEvent
from crm_core.pipelines import service as pipelines
from crm_core.pipelines.service import DEFAULT_STAGES
from crm_kit.db.session import unit_of_work
from crm_kit.events.bus import subject_for
from crm_kit.events.consumer import EventConsumer, Subscription
from crm_kit.events.outbox import build_envelope

pytestmark = pytest.mark.integration


def tenant_created(tenant: uuid.UUID) -> envelope_pb2.Envelope:
    return build_envelope(
        event_type="identity.tenant.created",
        source="identity",
        tenant_id=tenant,
        payload=identity_events.TenantCreated(
            tenant_id=str(tenant), name="Acme", owner_user_id=str(uuid.uuid4())
        ),
    )


class CountingConsumer:
    """crm-core's real handler, counted, behind a consumer of its own durable name."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self.calls = 0
        self.consumer = EventConsumer(
            durable=f"test_{uuid.uuid4().hex}",
            factory=factory,
            processed_model=ProcessedEvent,
            subscriptions={
                "identity.tenant.created": Subscription(identity_events.TenantCreated, self._handle)
            },
        )

    async def _handle(
        self,
        session: AsyncSession,
        envelope: envelope_pb2.Envelope,
        event: identity_events.TenantCreated,
    ) -> None:
        self.calls += 1
        await on_tenant_created(session, envelope, event)


async def _pipeline_names(
    factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
) -> list[tuple[str, int]]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        found = await pipelines.list_pipelines(session)
    return [(p.name, len(p.stages)) for p in found]


async def _processed_count(factory: async_sessionmaker[AsyncSession], event_id: str) -> int:
    async with unit_of_work(factory, tenant_id=None) as session:
        count = await session.scalar(
            select(func.count()).where(ProcessedEvent.event_id == uuid.UUID(event_id))
        )
    return int(count or 0)


class TestApply:
    async def test_second_application_of_one_event_is_skipped(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        counting = CountingConsumer(factory)
        envelope = tenant_created(tenant)
        assert await counting.consumer.apply(envelope) is True
        assert await counting.consumer.apply(envelope) is False
        assert counting.calls == 1
        assert await _pipeline_names(factory, tenant) == [("Sales", len(DEFAULT_STAGES))]

    async def test_a_new_event_for_a_tenant_with_a_pipeline_adds_none(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        consumer = build_consumer(factory)
        await consumer.apply(tenant_created(tenant))
        await consumer.apply(tenant_created(tenant))
        assert await _pipeline_names(factory, tenant) == [("Sales", len(DEFAULT_STAGES))]


class TestThroughJetStream:
    async def test_redelivered_event_is_applied_once(
        self,
        factory: async_sessionmaker[AsyncSession],
        jetstream: JetStreamContext,
        tenant: uuid.UUID,
    ) -> None:
        envelope = tenant_created(tenant)
        subject = subject_for(envelope.type)
        # Two copies with distinct Nats-Msg-Ids, so JetStream keeps both: the consumer
        # must recognise the second by the envelope's id.
        for copy in ("a", "b"):
            await jetstream.publish(
                subject,
                envelope.SerializeToString(),
                headers={"Nats-Msg-Id": f"{envelope.id}-{copy}"},
            )
        counting = CountingConsumer(factory)
        task = asyncio.create_task(counting.consumer.run(jetstream))
        try:
            for _ in range(100):
                if await _pipeline_names(factory, tenant):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert await _pipeline_names(factory, tenant) == [("Sales", len(DEFAULT_STAGES))]
        assert counting.calls == 1
        assert await _processed_count(factory, envelope.id) == 1
