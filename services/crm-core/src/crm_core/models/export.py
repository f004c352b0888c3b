"""CSV export jobs, and the queue their workers claim them from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base
from crm_kit.db.models import TenantOwned, utcnow

EXPORT_STATES = ("queued", "running", "completed", "failed", "expired")


class ExportJob(TenantOwned, Base):
    """One export: what to write (`request`, `columns`), for whom, and how far it got.

    The requester's user id, kind and roles are kept so the worker applies the same
    record visibility the requester had; `link_secret` signs its download links.
    """

    __tablename__ = "export_jobs"
    __table_args__ = (
        Index("ix_export_jobs_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
        CheckConstraint(
            "state IN ('queued', 'running', 'completed', 'failed', 'expired')", name="state_known"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    object_type: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    columns: Mapped[list[str]] = mapped_column(JSONB)
    requested_by: Mapped[uuid.UUID | None] = mapped_column()
    requester_kind: Mapped[str] = mapped_column(String(20))
    requester_roles: Mapped[list[str]] = mapped_column(JSONB)
    rows_written: Mapped[int] = mapped_column(BigInteger, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    storage_key: Mapped[str | None] = mapped_column(String(200))
    link_secret: Mapped[bytes] = mapped_column(LargeBinary)
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    file_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ExportQueueEntry(Base):
    """A job with work due: run it (queued, or its worker's lease ran out) or delete its
    file (past `file_expires_at`).

    Like the outbox, not scoped by RLS: workers claim every tenant's jobs from here
    (`FOR UPDATE SKIP LOCKED`), and it holds nothing but ids and times. A claim moves
    `due_at` past the lease, which the running worker keeps extending; a worker that
    dies stops extending it, and the job is claimed again once it passes.
    """

    __tablename__ = "export_queue"
    __table_args__ = (Index("ix_export_queue_due_at", "due_at"),)

    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
