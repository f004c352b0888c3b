"""From a platform event to the deliveries it owes: one per matching enabled endpoint.

Runs inside the consumer's transaction, which also records the event as processed, so a
redelivered event neither loses nor doubles a delivery. The body is fixed here: every
attempt and replay sends (and signs) these exact bytes.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC

from google.protobuf import json_format
from google.protobuf.message import Message
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import envelope_pb2
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import session_tenant
from crm_messaging.models import WebhookDelivery, WebhookEndpoint
from crm_messaging.models.webhook import PENDING
from crm_messaging.webhooks.catalog import BY_INTERNAL, matches


def body_for(envelope: envelope_pb2.Envelope, public_type: str, payload: Message) -> bytes:
    """The JSON every endpoint receives for this event (stable key order, UTF-8)."""
    document = {
        "id": envelope.id,
        "type": public_type,
        "created_at": envelope.occurred_at.ToDatetime(tzinfo=UTC).isoformat(),
        "tenant_id": envelope.tenant_id,
        "data": json_format.MessageToDict(payload, preserving_proto_field_name=True),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


async def fan_out(session: AsyncSession, envelope: envelope_pb2.Envelope, payload: Message) -> int:
    """Inserts a pending delivery for each enabled endpoint subscribed to the event's
    public type; returns how many. An event already fanned out adds nothing."""
    public = BY_INTERNAL.get(envelope.type)
    if public is None or not envelope.tenant_id:
        return 0
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))
    )
    targets = [e for e in endpoints if any(matches(p, public.name) for p in e.event_types)]
    if not targets:
        return 0
    body = body_for(envelope, public.name, payload)
    now = utcnow()
    tenant = session_tenant(session)
    rows = [
        {
            "id": new_id(),
            "tenant_id": tenant,
            "endpoint_id": endpoint.id,
            "event_id": uuid.UUID(envelope.id),
            "event_type": public.name,
            "payload": body,
            "status": PENDING,
            "attempt_count": 0,
            "next_attempt_at": now,
            "window_started_at": now,
            "last_error": "",
            "created_at": now,
            "updated_at": now,
        }
        for endpoint in targets
    ]
    await session.execute(insert(WebhookDelivery).values(rows).on_conflict_do_nothing())
    return len(rows)
