"""CSV import jobs, their per-row problems, and the queue workers claim them from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base
from crm_kit.db.models import TenantOwned, Timestamped, utcnow

IMPORT_STATES = ("awaiting_mapping", "queued", "running", "completed", "failed", "cancelled")
IMPORT_MODES = ("create", "update", "upsert")


class ImportJob(TenantOwned, Timestamped, Base):
    """One uploaded CSV and its progress. The checkpoint (`resume_offset`, the counters)
    advances in the same transaction as each chunk's rows, so it never disagrees with them."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        Index("ix_import_jobs_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    object_type: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="awaiting_mapping")
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    delimiter: Mapped[str] = mapped_column(String(1))
    has_bom: Mapped[bool] = mapped_column(Boolean, default=False)
    # Byte offset of the first data row (after the BOM and the header).
    data_offset: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[str]] = mapped_column(JSONB)
    suggested_mapping: Mapped[dict[str, Any]] = mapped_column(JSONB)
    preview: Mapped[list[list[str]]] = mapped_column(JSONB)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    mode: Mapped[str] = mapped_column(String(10), default="create")
    match_key: Mapped[str] = mapped_column(String(120), default="")
    rows_total: Mapped[int | None] = mapped_column(BigInteger)
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    created_count: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_count: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # Where the next chunk starts in the file, and the number of its first row (the
    # header is row 1, so the first data row is 2, as a spreadsheet shows it).
    resume_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    next_row_number: Mapped[int] = mapped_column(BigInteger, default=2)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    actor_kind: Mapped[str] = mapped_column(String(20), default="user")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportRowError(TenantOwned, Base):
    """A problem with one cell (or a whole row, column empty) of an import's file."""

    __tablename__ = "import_errors"
    __table_args__ = (
        Index("ix_import_errors_tenant_id_job_id_row_number", "tenant_id", "job_id", "row_number"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    row_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    column_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)


class ImportQueueEntry(Base):
    """A job waiting for (or held by) a worker. Workers claim across tenants, so, like the
    outbox, this table is not under RLS; it holds ids and the lease, no tenant data."""

    __tablename__ = "import_queue"
    __table_args__ = (Index("ix_import_queue_queued_at", "queued_at"),)

    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str] = mapped_column(String(100), default="", server_default=text("''"))
    # Failed runs so far: a chunk that keeps failing ends the job after a few.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
