"""Webhook endpoints, the deliveries owed to them, and each delivery's attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_kit.db.models import TenantOwned, Timestamped, new_id, utcnow
from crm_messaging.models.base import Base

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
# Set in a transaction, it lets the dispatcher and the retention sweep read due work of
# every tenant (the `webhook_dispatch` RLS policy).
DISPATCH_GUCS = {"app.webhook_dispatch": "on"}
DELIVERY_STATUSES = (PENDING, SUCCEEDED, FAILED)


class WebhookEndpoint(TenantOwned, Timestamped, Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str] = mapped_column(String(30), default="")
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by the first failed delivery after a success, cleared by the next success.
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Fernet tokens: the secret must be usable to sign, so it is encrypted, not hashed.
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column()


class WebhookDelivery(TenantOwned, Base):
    """One event owed to one endpoint; `payload` is the exact body every attempt sends."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "endpoint_id", "event_id"),
        Index(
            "ix_webhook_deliveries_tenant_id_endpoint_id_created_at",
            "tenant_id",
            "endpoint_id",
            "created_at",
        ),
        # The dispatcher's queue, across tenants: only what is still owed.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Retries stop once the schedule is used up and this is 24 h (scaled) in the past;
    # a replay starts a new window.
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(String(30), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class WebhookAttempt(TenantOwned, Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("tenant_id", "delivery_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(String(30), default="")
    response_snippet: Mapped[str] = mapped_column(String(500), default="")
