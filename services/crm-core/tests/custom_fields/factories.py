"""Small typed factories for custom field tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.custom_fields import service as custom_fields
from crm_core.custom_fields.schemas import CustomFieldCreate, SelectOption
from crm_core.models import CustomFieldDefinition
from crm_kit.db.session import unit_of_work


async def define_field(
    factory: async_sessionmaker[AsyncSession],
    *,
    tenant: uuid.UUID,
    key: str,
    field_type: str,
    object_type: str = "contacts",
    options: list[str] | None = None,
    **extra: Any,
) -> CustomFieldDefinition:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await custom_fields.create(
            session,
            data=CustomFieldCreate(
                object_type=object_type,
                key=key,
                label=key.replace("_", " ").title(),
                field_type=field_type,
                options=[SelectOption(value=o, label=o.title()) for o in options or []],
                **extra,
            ),
        )
