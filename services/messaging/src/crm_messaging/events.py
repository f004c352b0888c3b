"""messaging's outbox: the events it publishes (webhook endpoints disabled for failing)."""

from __future__ import annotations

from crm_kit.events.outbox import Outbox
from crm_messaging.models import OutboxRecord

SERVICE_NAME = "messaging"
WEBHOOK_ENDPOINT_DISABLED = "messaging.webhook_endpoint.disabled"

outbox = Outbox(OutboxRecord, source=SERVICE_NAME)
