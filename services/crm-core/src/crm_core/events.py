"""crm-core's outbox (the events it publishes are written by each area's service)."""

from __future__ import annotations

from crm_core.models import OutboxRecord
from crm_kit.events.outbox import Outbox

SERVICE_NAME = "crm_core"

outbox = Outbox(OutboxRecord, source=SERVICE_NAME)
