"""Account activity events: who, from where (IP, user agent), never a secret."""

from __future__ import annotations

import uuid

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import identity_pb2 as identity_events
from crm_identity.events import outbox
from crm_kit.context import current_context


def client_info() -> identity_events.ClientInfo:
    ctx = current_context()
    return identity_events.ClientInfo(ip=ctx.client_ip, user_agent=ctx.user_agent)


def record(
    session: AsyncSession, *, tenant_id: uuid.UUID, event_type: str, payload: Message
) -> None:
    """Write `identity.<event_type>` to the outbox in the caller's transaction."""
    outbox.add(session, event_type=f"identity.{event_type}", tenant_id=tenant_id, payload=payload)
