"""Small factories for webhook tests: endpoints, platform events, a dispatcher."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import timedelta
from pathlib import Path

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import crm_core_pb2 as core
from crm.events.v1 import envelope_pb2
from crm_kit.db.session import unit_of_work
from crm_kit.events.outbox import build_envelope
from crm_messaging.models import WebhookEndpoint
from crm_messaging.webhooks import endpoints
from crm_messaging.webhooks.addresses import Network
from crm_messaging.webhooks.dispatcher import Dispatcher, DispatchPolicy
from crm_messaging.webhooks.endpoints import EndpointRules
from crm_messaging.webhooks.retry import RetryPolicy
from crm_messaging.webhooks.sender import WebhookSender
from crm_messaging.webhooks.signing import SecretBox

# The local receiver's network, which these tests allow beside the public internet.
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


async def create_endpoint(
    factory: async_sessionmaker[AsyncSession],
    *,
    tenant: uuid.UUID,
    rules: EndpointRules,
    url: str,
    event_types: tuple[str, ...] = ("contact.*",),
) -> tuple[WebhookEndpoint, str]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await endpoints.create(
            session,
            rules=rules,
            url=url,
            description="test",
            event_types=list(event_types),
            created_by=None,
        )


def contact_created(tenant: uuid.UUID, *, first_name: str = "Ada") -> envelope_pb2.Envelope:
    return event(
        tenant,
        "crm_core.contact.created",
        core.ContactCreated(
            contact=core.ContactSnapshot(
                id=str(uuid.uuid4()), tenant_id=str(tenant), first_name=first_name, version=1
            )
        ),
    )


def event(tenant: uuid.UUID, event_type: str, payload: Message) -> envelope_pb2.Envelope:
    return build_envelope(
        event_type=event_type, source="crm_core", tenant_id=tenant, payload=payload
    )


def dispatcher(
    factory: async_sessionmaker[AsyncSession],
    *,
    box: SecretBox,
    ca_bundle: Path,
    allowed: tuple[Network, ...],
    timeout: float = 2.0,
    lease: timedelta = timedelta(seconds=30),
    max_concurrency: int = 10,
    per_endpoint: int = 1,
    disable_after: timedelta = timedelta(days=5),
) -> Dispatcher:
    return Dispatcher(
        factory,
        box=box,
        sender=WebhookSender(
            allowed_networks=allowed,
            ca_bundle=ca_bundle,
            timeout_seconds=timeout,
            max_connections=max_concurrency,
        ),
        policy=DispatchPolicy(
            retry=RetryPolicy(scale=0.001),
            disable_after=disable_after,
            lease=lease,
            max_concurrency=max_concurrency,
            per_endpoint=per_endpoint,
            poll_seconds=0.05,
        ),
    )
