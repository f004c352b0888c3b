"""A person who signs in to one tenant."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from crm_identity.models.base import Base
from crm_kit.db.models import TenantOwned, Timestamped


class User(TenantOwned, Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email_normalized"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320), index=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    # active | deactivated
    status: Mapped[str] = mapped_column(String(20), default="active")
    phone: Mapped[str | None] = mapped_column(String(32))
    # When the person attested being 18 or older (signup or invitation acceptance).
    age_attested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # TOTP (RFC 6238): the base32 secret once enrollment is confirmed; the pending
    # one between start and confirmation.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Lockout: consecutive failures inside the current window, and the lock they caused.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failure_window_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Lockouts since the last successful login: each one doubles the next lock.
    lockouts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
