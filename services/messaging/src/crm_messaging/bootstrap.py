"""The one place that wires messaging's parts together: the webhook API, the consumer
that fans public events out to endpoints, the delivery worker, and the outbox relay."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.messaging.v1 import webhooks_pb2_grpc
from crm_kit.grpc.server import ServiceRegistration
from crm_kit.runtime import ServiceParts
from crm_kit.settings import ServiceSettings
from crm_messaging.entrypoints.consumers import build_consumer
from crm_messaging.entrypoints.webhooks_grpc import WEBHOOK_SERVICE, WebhookServicer
from crm_messaging.models import OutboxRecord
from crm_messaging.settings import MessagingSettings
from crm_messaging.webhooks.dispatcher import Dispatcher, DispatchPolicy
from crm_messaging.webhooks.endpoints import EndpointRules
from crm_messaging.webhooks.retention import purge_forever
from crm_messaging.webhooks.retry import RetryPolicy
from crm_messaging.webhooks.sender import WebhookSender
from crm_messaging.webhooks.signing import SecretBox

log = logging.getLogger(__name__)


def build_dispatcher(
    settings: MessagingSettings, factory: async_sessionmaker[AsyncSession], box: SecretBox
) -> Dispatcher:
    timeout = settings.webhook_attempt_timeout_seconds
    return Dispatcher(
        factory,
        box=box,
        sender=WebhookSender(
            allowed_networks=settings.webhook_private_networks,
            ca_bundle=settings.webhook_ca_bundle,
            timeout_seconds=timeout,
            max_connections=settings.webhook_max_concurrency,
        ),
        policy=DispatchPolicy(
            retry=RetryPolicy(scale=settings.webhook_retry_scale),
            disable_after=timedelta(days=settings.webhook_disable_after_days),
            lease=timedelta(seconds=timeout + settings.webhook_lease_margin_seconds),
            max_concurrency=settings.webhook_max_concurrency,
            per_endpoint=settings.webhook_per_endpoint_concurrency,
            poll_seconds=settings.webhook_dispatch_poll_seconds,
            # Within the pod's grace period (30 s, 5 s of it before SIGTERM).
            drain_seconds=min(timeout, 15.0),
        ),
    )


def build(settings: ServiceSettings, factory: async_sessionmaker[AsyncSession]) -> ServiceParts:
    messaging = settings if isinstance(settings, MessagingSettings) else MessagingSettings()
    key = messaging.webhook_secret_key
    box = SecretBox(key.get_secret_value()) if key is not None else None
    rules = EndpointRules(box=box, allowed_networks=messaging.webhook_private_networks)
    webhooks = WebhookServicer(factory, rules)
    background: list[Callable[[], Coroutine[Any, Any, None]]] = [
        partial(purge_forever, factory, keep=timedelta(days=messaging.webhook_retention_days))
    ]
    if box is None:
        log.warning("MESSAGING_WEBHOOK_SECRET_KEY is not set: webhooks are off")
    else:
        background.append(build_dispatcher(messaging, factory, box).run)
    return ServiceParts(
        registrations=[
            ServiceRegistration(
                WEBHOOK_SERVICE,
                lambda server: webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(
                    webhooks, server
                ),
            )
        ],
        outbox_model=OutboxRecord,
        consumers=[build_consumer(factory)],
        background=background,
    )
