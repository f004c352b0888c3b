"""Messaging tables: the event tables and webhook endpoints, deliveries and attempts."""

from crm_messaging.models.base import Base, OutboxRecord, ProcessedEvent
from crm_messaging.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "Base",
    "OutboxRecord",
    "ProcessedEvent",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
