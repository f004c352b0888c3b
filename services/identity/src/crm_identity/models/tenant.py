"""An organization. Its own id is its tenant id, so RLS keys on `id` here."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_identity.models.base import Base
from crm_kit.db.models import utcnow


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # active | cancelled | pending_deletion
    status: Mapped[str] = mapped_column(String(30), default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Every user must log in with a second factor.
    mfa_required: Mapped[bool] = mapped_column(default=False, server_default="false")
    # The billing plan (set by billing.plan.changed); "" is the default plan. Every
    # access token carries it, so the gateway picks its rate limits without a lookup.
    plan: Mapped[str] = mapped_column(String(50), default="", server_default="")
    # The changed_at of the event that set `plan`: an older event never overwrites it.
    plan_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
