"""Events crm-core consumes: decode, call one use case."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import envelope_pb2
from crm.events.v1 import identity_pb2 as identity_events
from crm_core.models import ProcessedEvent
from crm_core.pipelines import service as pipelines
from crm_kit.events.consumer import EventConsumer, Subscription

DURABLE_NAME = "crm_core"


async def on_tenant_created(
    session: AsyncSession, envelope: envelope_pb2.Envelope, event: identity_events.TenantCreated
) -> None:
    await pipelines.create_default_pipeline(session)


def build_consumer(factory: async_sessionmaker[AsyncSession]) -> EventConsumer:
    return EventConsumer(
        durable=DURABLE_NAME,
        factory=factory,
        processed_model=ProcessedEvent,
        subscriptions={
            "identity.tenant.created": Subscription(
                identity_events.TenantCreated, on_tenant_created
            )
        },
    )
