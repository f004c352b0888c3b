"""Events identity consumes: decode, call one use case."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import billing_pb2 as billing_events
from crm.events.v1 import envelope_pb2
from crm_identity.models import ProcessedEvent
from crm_identity.plans import service as plans
from crm_kit.errors import InvalidArgument
from crm_kit.events.consumer import EventConsumer, Subscription

log = logging.getLogger(__name__)

DURABLE_NAME = "identity"


async def on_plan_changed(
    session: AsyncSession, envelope: envelope_pb2.Envelope, event: billing_events.PlanChanged
) -> None:
    """Store the tenant's new plan. An event that can never apply is logged and
    dropped (acked), since redelivering it forever would not fix it."""
    if event.tenant_id != envelope.tenant_id or not event.HasField("changed_at"):
        log.error("malformed plan change ignored", extra={"event_id": envelope.id})
        return
    try:
        await plans.apply_change(
            session,
            tenant_id=uuid.UUID(event.tenant_id),
            plan=event.plan,
            changed_at=event.changed_at.ToDatetime(tzinfo=UTC),
        )
    except InvalidArgument:
        log.error("plan change with an invalid plan ignored", extra={"event_id": envelope.id})


def build_consumer(factory: async_sessionmaker[AsyncSession]) -> EventConsumer:
    return EventConsumer(
        durable=DURABLE_NAME,
        factory=factory,
        processed_model=ProcessedEvent,
        subscriptions={
            "billing.plan.changed": Subscription(billing_events.PlanChanged, on_plan_changed)
        },
    )
