"""A tenant's definition of an extra field on one object type."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base
from crm_kit.db.models import TenantOwned, Timestamped


class CustomFieldDefinition(TenantOwned, Timestamped, Base):
    __tablename__ = "custom_field_definitions"
    __table_args__ = (UniqueConstraint("tenant_id", "object_type", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    object_type: Mapped[str] = mapped_column(String(50))
    # Slug under which records store the value in their custom_fields column.
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    field_type: Mapped[str] = mapped_column(String(30))
    required: Mapped[bool] = mapped_column(default=False)
    is_unique: Mapped[bool] = mapped_column(default=False)
    default_value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    # Select fields: [{"value": ..., "label": ...}] in display order.
    options: Mapped[list[dict[str, str]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    relation_object_type: Mapped[str | None] = mapped_column(String(50))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    updated_by: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(BigInteger, default=1)

    __mapper_args__ = {"version_id_col": version}
