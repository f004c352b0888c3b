"""Where a merged record went: the pointer its old id answers with."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base
from crm_kit.db.models import TenantOwned, utcnow


class RecordMerge(TenantOwned, Base):
    __tablename__ = "record_merges"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "merged_id"),
        Index("ix_record_merges_tenant_id_survivor_id", "tenant_id", "survivor_id"),
    )

    object_type: Mapped[str] = mapped_column(String(50))
    merged_id: Mapped[uuid.UUID] = mapped_column()
    survivor_id: Mapped[uuid.UUID] = mapped_column()
    merged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    merged_by: Mapped[uuid.UUID | None] = mapped_column()
