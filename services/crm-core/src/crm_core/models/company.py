"""An organization the tenant sells to, and which contacts work there."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, Computed, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base
from crm_core.models.search_columns import search_text_sql, search_vector_sql
from crm_kit.db.models import TenantOwned, Timestamped

COMPANY_SEARCH_COLUMNS = ("name", "domain", "industry")


class Company(TenantOwned, Timestamped, Base):
    __tablename__ = "companies"
    __table_args__ = (
        Index("ix_companies_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
        Index(
            "uq_companies_tenant_id_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index("ix_companies_tenant_id_domain", "tenant_id", "domain"),
        Index("ix_companies_tenant_id_industry", "tenant_id", "industry"),
        Index("ix_companies_custom_fields", "custom_fields", postgresql_using="gin"),
        Index("ix_companies_search_vector", "search_vector", postgresql_using="gin"),
        # Substring search: crm_search_trigrams (migration 0002) serves it under RLS.
        Index(
            "ix_companies_search_trigrams",
            func.crm_search_trigrams(text("search_text")),
            postgresql_using="gin",
        ),
        Index(
            "ix_companies_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The record's id in another system (unique per tenant when set): imports and
    # integrations match on it.
    external_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    # Lowercase host without scheme or "www.", empty when unknown.
    domain: Mapped[str] = mapped_column(String(253), default="")
    industry: Mapped[str] = mapped_column(String(100), default="")
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    updated_by: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    search_text: Mapped[str] = mapped_column(
        Text, Computed(search_text_sql(*COMPANY_SEARCH_COLUMNS), persisted=True), deferred=True
    )
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(search_vector_sql(*COMPANY_SEARCH_COLUMNS), persisted=True),
        deferred=True,
    )

    __mapper_args__ = {"version_id_col": version}


class ContactCompany(TenantOwned, Base):
    """A contact works at a company; at most one link per contact is primary."""

    __tablename__ = "contact_companies"
    __table_args__ = (
        Index("ix_contact_companies_tenant_id_company_id", "tenant_id", "company_id"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    company_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    is_primary: Mapped[bool] = mapped_column(default=False)
