"""Messaging tables: so far only the event tables its coming work will use."""

from crm_messaging.models.base import Base, OutboxRecord, ProcessedEvent

__all__ = ["Base", "OutboxRecord", "ProcessedEvent"]
