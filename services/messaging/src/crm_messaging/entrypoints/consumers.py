"""Events messaging consumes: every public event type, fanned out to webhook endpoints."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import envelope_pb2
from crm_kit.events.consumer import EventConsumer, Subscription
from crm_messaging.models import ProcessedEvent
from crm_messaging.webhooks.catalog import CATALOG
from crm_messaging.webhooks.fanout import fan_out

DURABLE_NAME = "messaging_webhooks"


async def on_public_event(
    session: AsyncSession, envelope: envelope_pb2.Envelope, payload: Any
) -> None:
    await fan_out(session, envelope, payload)


def build_consumer(factory: async_sessionmaker[AsyncSession]) -> EventConsumer:
    return EventConsumer(
        durable=DURABLE_NAME,
        factory=factory,
        processed_model=ProcessedEvent,
        subscriptions={t.internal: Subscription(t.payload_type, on_public_event) for t in CATALOG},
    )
