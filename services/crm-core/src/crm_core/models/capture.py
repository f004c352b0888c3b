"""Capture forms a tenant publishes on landing pages, and what visitors submitted."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base
from crm_kit.db.models import TenantOwned, Timestamped, utcnow

UTM_LENGTH = 200
URL_LENGTH = 2048
# What a submission did: made a lead, or was recorded against an existing lead/contact.
SUBMISSION_OUTCOMES = ("lead_created", "attached_to_lead", "attached_to_contact")


class CaptureForm(TenantOwned, Timestamped, Base):
    """A form: its fields (each mapped to a lead field), where it may be embedded, and
    what a visitor sees after submitting. `public_key` is what the page carries."""

    __tablename__ = "capture_forms"
    __table_args__ = (
        Index("ix_capture_forms_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
        # Visitors name a form by its key alone; the lookup policy is keyed on it too.
        Index("ix_capture_forms_public_key", "public_key", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[str] = mapped_column(String(64))
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    allowed_origins: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    redirect_url: Mapped[str] = mapped_column(String(URL_LENGTH), default="")
    thank_you_message: Mapped[str] = mapped_column(Text, default="")
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    honeypot_field: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column()


class FormSubmission(TenantOwned, Base):
    """One accepted submission and its attribution. No IP address or user agent is kept:
    rate limits use the IP at the gateway, and attribution needs neither."""

    __tablename__ = "form_submissions"
    __table_args__ = (
        Index(
            "ix_form_submissions_tenant_id_form_id_submitted_at",
            "tenant_id",
            "form_id",
            "submitted_at",
        ),
        Index(
            "ix_form_submissions_tenant_id_campaign",
            "tenant_id",
            "utm_source",
            "utm_medium",
            "utm_campaign",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    form_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("capture_forms.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(30))
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    utm_source: Mapped[str] = mapped_column(String(UTM_LENGTH), default="")
    utm_medium: Mapped[str] = mapped_column(String(UTM_LENGTH), default="")
    utm_campaign: Mapped[str] = mapped_column(String(UTM_LENGTH), default="")
    utm_term: Mapped[str] = mapped_column(String(UTM_LENGTH), default="")
    utm_content: Mapped[str] = mapped_column(String(UTM_LENGTH), default="")
    referrer: Mapped[str] = mapped_column(String(URL_LENGTH), default="")
    landing_url: Mapped[str] = mapped_column(String(URL_LENGTH), default="")
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
