"""crm-core's tables, one entity a module; importing this package registers them all."""

from crm_core.models.base import Base, OutboxRecord, ProcessedEvent
from crm_core.models.contact import Contact
from crm_core.models.pipeline import Pipeline, Stage

__all__ = ["Base", "Contact", "OutboxRecord", "Pipeline", "ProcessedEvent", "Stage"]
