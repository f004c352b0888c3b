"""Sales pipelines and their ordered stages."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.models.base import Base
from crm_kit.db.models import TenantOwned, utcnow


class Pipeline(TenantOwned, Base):
    __tablename__ = "pipelines"
    __table_args__ = (
        # At most one default pipeline per tenant: creating it twice is a no-op.
        Index(
            "uq_pipelines_tenant_id_default",
            "tenant_id",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    stages: Mapped[list[Stage]] = relationship(
        back_populates="pipeline", order_by="Stage.position", lazy="raise"
    )


class Stage(TenantOwned, Base):
    __tablename__ = "stages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "pipeline_id", "position"),
        CheckConstraint("kind IN ('open', 'won', 'lost')", name="kind_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    probability: Mapped[int] = mapped_column(Integer)
    # open, won or lost: a deal entering a won/lost stage takes that status.
    kind: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    pipeline: Mapped[Pipeline] = relationship(back_populates="stages", lazy="raise")
