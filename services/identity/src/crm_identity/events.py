"""Events identity publishes (through its outbox)."""

from __future__ import annotations

from crm_identity.models import OutboxRecord
from crm_kit.events.outbox import Outbox

SERVICE_NAME = "identity"

outbox = Outbox(OutboxRecord, source=SERVICE_NAME)
