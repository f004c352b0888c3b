"""Who sees which records: per role and object type, all records or only their own."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base
from crm_kit.db.models import TenantOwned, utcnow

VISIBILITY_ALL = "all"
VISIBILITY_OWN = "own"


class RecordVisibilityRule(TenantOwned, Base):
    """A role's visibility on one object type; no row means `all`."""

    __tablename__ = "record_visibility_rules"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "role", "object_type"),
        CheckConstraint("visibility IN ('all', 'own')", name="visibility_known"),
    )

    role: Mapped[str] = mapped_column(String(30))
    object_type: Mapped[str] = mapped_column(String(50))
    visibility: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[uuid.UUID | None] = mapped_column()
