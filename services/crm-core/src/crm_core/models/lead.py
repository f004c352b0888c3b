"""A prospect not yet qualified: converted, it becomes a contact (and a company, a deal)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base
from crm_core.models.capture import URL_LENGTH, UTM_LENGTH
from crm_core.models.search_columns import search_text_sql, search_vector_sql
from crm_kit.db.models import TenantOwned, Timestamped

LEAD_SEARCH_COLUMNS = ("first_name", "last_name", "email", "phone", "company_name", "domain")
LEAD_SOURCES = ("web_form", "import", "referral", "manual", "api", "event", "other")
LEAD_STATUSES = ("new", "contacted", "qualified", "unqualified", "converted")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Lead(TenantOwned, Timestamped, Base):
    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(_one_of("source", LEAD_SOURCES), name="source_known"),
        CheckConstraint(_one_of("status", LEAD_STATUSES), name="status_known"),
        Index("ix_leads_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
        Index(
            "uq_leads_tenant_id_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index("ix_leads_tenant_id_lower_email", "tenant_id", func.lower(text("email"))),
        Index("ix_leads_tenant_id_status", "tenant_id", "status"),
        Index("ix_leads_tenant_id_utm_campaign", "tenant_id", "utm_campaign"),
        Index("ix_leads_custom_fields", "custom_fields", postgresql_using="gin"),
        Index("ix_leads_search_vector", "search_vector", postgresql_using="gin"),
        Index(
            "ix_leads_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The record's id in another system (unique per tenant when set): imports and
    # integrations match on it.
    external_id: Mapped[str | None] = mapped_column(String(200))
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    company_name: Mapped[str] = mapped_column(String(200), default="")
    # The company's website as a lowercase host (see companies.schemas.normalize_domain).
    domain: Mapped[str] = mapped_column(String(253), default="")
    source: Mapped[str] = mapped_column(String(20), default="manual")
    status: Mapped[str] = mapped_column(String(20), default="new")
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    updated_by: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the lead became; a later delete of those records leaves the link empty.
    converted_contact_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )
    converted_company_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL")
    )
    converted_deal_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("deals.id", ondelete="SET NULL")
    )
    # First-touch attribution, set when a capture form created the lead (or found it
    # without any): a later submission never overwrites it.
    utm_source: Mapped[str] = mapped_column(String(UTM_LENGTH), default="", server_default="")
    utm_medium: Mapped[str] = mapped_column(String(UTM_LENGTH), default="", server_default="")
    utm_campaign: Mapped[str] = mapped_column(String(UTM_LENGTH), default="", server_default="")
    utm_term: Mapped[str] = mapped_column(String(UTM_LENGTH), default="", server_default="")
    utm_content: Mapped[str] = mapped_column(String(UTM_LENGTH), default="", server_default="")
    referrer: Mapped[str] = mapped_column(String(URL_LENGTH), default="", server_default="")
    landing_url: Mapped[str] = mapped_column(String(URL_LENGTH), default="", server_default="")
    capture_form_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("capture_forms.id", ondelete="SET NULL")
    )
    search_text: Mapped[str] = mapped_column(
        Text, Computed(search_text_sql(*LEAD_SEARCH_COLUMNS), persisted=True), deferred=True
    )
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(search_vector_sql(*LEAD_SEARCH_COLUMNS), persisted=True), deferred=True
    )

    __mapper_args__ = {"version_id_col": version}
