"""crm-core's tables, one entity a module; importing this package registers them all."""

from crm_core.models.base import Base, OutboxRecord, ProcessedEvent
from crm_core.models.capture import CaptureForm, FormSubmission
from crm_core.models.company import Company, ContactCompany
from crm_core.models.contact import Contact
from crm_core.models.custom_field import CustomFieldDefinition
from crm_core.models.deal import Deal, DealContact, DealStageHistory
from crm_core.models.engagement import (
    Activity,
    Note,
    RecordChange,
    RecordLink,
    RecordTag,
    Tag,
    Task,
)
from crm_core.models.export import ExportJob, ExportQueueEntry
from crm_core.models.file import StoredFile
from crm_core.models.import_job import ImportJob, ImportQueueEntry, ImportRowError
from crm_core.models.lead import Lead
from crm_core.models.merge import RecordMerge
from crm_core.models.permission import RecordVisibilityRule
from crm_core.models.pipeline import Pipeline, Stage

__all__ = [
    "Activity",
    "Base",
    "CaptureForm",
    "Company",
    "Contact",
    "ContactCompany",
    "CustomFieldDefinition",
    "Deal",
    "DealContact",
    "DealStageHistory",
    "ExportJob",
    "ExportQueueEntry",
    "FormSubmission",
    "ImportJob",
    "ImportQueueEntry",
    "ImportRowError",
    "Lead",
    "Note",
    "OutboxRecord",
    "Pipeline",
    "ProcessedEvent",
    "RecordChange",
    "RecordLink",
    "RecordMerge",
    "RecordTag",
    "RecordVisibilityRule",
    "Stage",
    "StoredFile",
    "Tag",
    "Task",
]
