"""Activities, tasks and notes, the links that attach them to records, and tags.

An item (activity, task, note) attaches to one or more records of any object type
through `record_links`; a link has no foreign key because the record may be of any
type, so the services check on attach that the record exists in the tenant, and the
records' deletion rules (`crm_core.timeline.record_deletion`) clean links up.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base
from crm_kit.db.models import TenantOwned, Timestamped, utcnow

ACTIVITY_KINDS = ("call", "meeting", "email")
TASK_STATUSES = ("open", "in_progress", "done", "cancelled")
ITEM_TYPES = ("activity", "task", "note")


class Activity(TenantOwned, Timestamped, Base):
    """A call, meeting or email that happened (or is logged) at `occurred_at`."""

    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint("kind IN ('call', 'meeting', 'email')", name="kind_known"),
        CheckConstraint("duration_seconds >= 0", name="duration_not_negative"),
        Index("ix_activities_tenant_id_occurred_at_id", "tenant_id", "occurred_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    duration_seconds: Mapped[int | None] = mapped_column(BigInteger)
    participant_contact_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    participant_emails: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    updated_by: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(BigInteger, default=1)

    __mapper_args__ = {"version_id_col": version}


class Task(TenantOwned, Timestamped, Base):
    """Something to do by `due_at`, assigned to a user; reminders are data only."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'in_progress', 'done', 'cancelled')", name="status_known"
        ),
        Index(
            "ix_tasks_tenant_id_assignee_id_status_due_at",
            "tenant_id",
            "assignee_id",
            "status",
            "due_at",
        ),
        Index("ix_tasks_tenant_id_due_at_id", "tenant_id", "due_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="open")
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # [{"remind_at": ISO 8601 UTC, "channel": "in_app" | "email"}], sorted by time.
    reminders: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    updated_by: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(BigInteger, default=1)

    __mapper_args__ = {"version_id_col": version}


class Note(TenantOwned, Timestamped, Base):
    """Rich text, stored only as HTML that passed the allow-list sanitizer."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_tenant_id_created_at_id", "tenant_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    body_html: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    updated_by: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(BigInteger, default=1)

    __mapper_args__ = {"version_id_col": version}


class RecordLink(TenantOwned, Base):
    """An activity, task or note attached to a record (contact, company, lead, deal)."""

    __tablename__ = "record_links"
    __table_args__ = (
        CheckConstraint("item_type IN ('activity', 'task', 'note')", name="item_type_known"),
        Index(
            "ix_record_links_tenant_id_record_type_record_id",
            "tenant_id",
            "record_type",
            "record_id",
            "item_type",
        ),
    )

    # The primary key leads with the tenant: it is also the index of an item's links.
    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    item_type: Mapped[str] = mapped_column(String(10), primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Tag(TenantOwned, Base):
    """A label; its name is unique per tenant ignoring case."""

    __tablename__ = "tags"
    __table_args__ = (
        Index("uq_tags_tenant_id_lower_name", "tenant_id", text("lower(name)"), unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    color: Mapped[str] = mapped_column(String(7), default="#808080")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column()


class RecordTag(TenantOwned, Base):
    """A tag put on a record."""

    __tablename__ = "record_tags"
    __table_args__ = (
        Index(
            "ix_record_tags_tenant_id_record_type_record_id",
            "tenant_id",
            "record_type",
            "record_id",
        ),
    )

    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    )
    record_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RecordChange(TenantOwned, Base):
    """One update of a record: `changes` is {field: [old, new]} (JSON values)."""

    __tablename__ = "record_changes"
    __table_args__ = (
        Index(
            "ix_record_changes_tenant_id_record_type_record_id_changed_at",
            "tenant_id",
            "record_type",
            "record_id",
            "changed_at",
            "id",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[uuid.UUID] = mapped_column()
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changed_by: Mapped[uuid.UUID | None] = mapped_column()
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
