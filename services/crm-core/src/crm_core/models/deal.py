"""An opportunity moving through a pipeline's stages, its contacts and its stage history."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base
from crm_core.models.search_columns import search_text_sql, search_vector_sql
from crm_kit.db.models import TenantOwned, Timestamped, utcnow

DEAL_SEARCH_COLUMNS = ("name",)
DEAL_STATUSES = ("open", "won", "lost")


class Deal(TenantOwned, Timestamped, Base):
    __tablename__ = "deals"
    __table_args__ = (
        CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability_percent"),
        CheckConstraint("status IN ('open', 'won', 'lost')", name="status_known"),
        Index("ix_deals_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
        Index(
            "uq_deals_tenant_id_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        # The board groups a pipeline's deals by stage.
        Index("ix_deals_tenant_id_pipeline_id_stage_id", "tenant_id", "pipeline_id", "stage_id"),
        Index("ix_deals_tenant_id_company_id", "tenant_id", "company_id"),
        Index("ix_deals_custom_fields", "custom_fields", postgresql_using="gin"),
        Index("ix_deals_search_vector", "search_vector", postgresql_using="gin"),
        Index(
            "ix_deals_search_text_trgm",
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
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipelines.id"))
    stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stages.id"))
    probability: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="open")
    # When the deal entered its current stage: what time-in-stage is measured from.
    stage_entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    company_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL")
    )
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    updated_by: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    search_text: Mapped[str] = mapped_column(
        Text, Computed(search_text_sql(*DEAL_SEARCH_COLUMNS), persisted=True), deferred=True
    )
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(search_vector_sql(*DEAL_SEARCH_COLUMNS), persisted=True), deferred=True
    )

    __mapper_args__ = {"version_id_col": version}


class DealContact(TenantOwned, Base):
    """A contact takes part in a deal."""

    __tablename__ = "deal_contacts"
    __table_args__ = (Index("ix_deal_contacts_tenant_id_contact_id", "tenant_id", "contact_id"),)

    deal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deals.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )


class DealStageHistory(TenantOwned, Base):
    """One stage change of a deal (the first row, from no stage, is its creation).

    Stage ids carry no foreign key: the history outlives a removed stage.
    """

    __tablename__ = "deal_stage_history"
    __table_args__ = (
        Index(
            "ix_deal_stage_history_tenant_id_deal_id_moved_at", "tenant_id", "deal_id", "moved_at"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    deal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    from_stage_id: Mapped[uuid.UUID | None] = mapped_column()
    to_stage_id: Mapped[uuid.UUID] = mapped_column()
    moved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    moved_by: Mapped[uuid.UUID | None] = mapped_column()
    time_in_previous_stage_seconds: Mapped[int | None] = mapped_column(BigInteger)
