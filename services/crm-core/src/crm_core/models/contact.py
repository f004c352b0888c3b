"""A person the tenant sells to."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, Computed, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base
from crm_core.models.search_columns import search_text_sql, search_vector_sql
from crm_kit.db.models import TenantOwned, Timestamped

CONTACT_SEARCH_COLUMNS = ("first_name", "last_name", "email", "phone", "phone_e164")


class Contact(TenantOwned, Timestamped, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        # Keyset pagination walks (created_at, id) within a tenant.
        Index("ix_contacts_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
        Index(
            "uq_contacts_tenant_id_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        # Duplicate detection looks contacts up by normalized email and phone.
        Index("ix_contacts_tenant_id_lower_email", "tenant_id", func.lower(text("email"))),
        Index("ix_contacts_tenant_id_phone_e164", "tenant_id", "phone_e164"),
        Index("ix_contacts_tenant_id_last_name", "tenant_id", "last_name"),
        Index("ix_contacts_custom_fields", "custom_fields", postgresql_using="gin"),
        Index("ix_contacts_search_vector", "search_vector", postgresql_using="gin"),
        # Substring search: crm_search_trigrams (migration 0002) serves it under RLS.
        Index(
            "ix_contacts_search_trigrams",
            func.crm_search_trigrams(text("search_text")),
            postgresql_using="gin",
        ),
        Index(
            "ix_contacts_search_text_trgm",
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
    # The phone in E.164 when it parses as one, else empty: what duplicates compare.
    phone_e164: Mapped[str] = mapped_column(String(20), default="", server_default="")
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    updated_by: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    search_text: Mapped[str] = mapped_column(
        Text, Computed(search_text_sql(*CONTACT_SEARCH_COLUMNS), persisted=True), deferred=True
    )
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(search_vector_sql(*CONTACT_SEARCH_COLUMNS), persisted=True),
        deferred=True,
    )

    __mapper_args__ = {"version_id_col": version}
