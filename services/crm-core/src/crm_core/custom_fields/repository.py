"""Every query on custom field definitions and on the values records hold."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import cast, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import CustomFieldDefinition
from crm_core.permissions.visibility import EVERY_RECORD
from crm_core.records.registry import ObjectSpec


class CustomFieldRepository:
    async def list_for(
        self, session: AsyncSession, object_type: str
    ) -> list[CustomFieldDefinition]:
        query = (
            select(CustomFieldDefinition)
            .where(CustomFieldDefinition.object_type == object_type)
            .order_by(CustomFieldDefinition.position, CustomFieldDefinition.key)
        )
        return list(await session.scalars(query))

    async def get(
        self, session: AsyncSession, *, object_type: str, definition_id: uuid.UUID
    ) -> CustomFieldDefinition | None:
        return await session.scalar(
            select(CustomFieldDefinition).where(
                CustomFieldDefinition.id == definition_id,
                CustomFieldDefinition.object_type == object_type,
            )
        )

    async def key_exists(self, session: AsyncSession, *, object_type: str, key: str) -> bool:
        found = await session.scalar(
            select(CustomFieldDefinition.id).where(
                CustomFieldDefinition.object_type == object_type, CustomFieldDefinition.key == key
            )
        )
        return found is not None

    async def relations_to(self, session: AsyncSession, target: str) -> list[CustomFieldDefinition]:
        return list(
            await session.scalars(
                select(CustomFieldDefinition).where(
                    CustomFieldDefinition.field_type == "relation",
                    CustomFieldDefinition.relation_object_type == target,
                )
            )
        )

    async def lock_definition(self, session: AsyncSession, definition_id: uuid.UUID) -> None:
        """Serializes unique checks of one definition until the transaction ends."""
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"custom_field:{definition_id}"},
        )

    async def records_with_value(
        self,
        session: AsyncSession,
        spec: ObjectSpec,
        *,
        key: str,
        value: Any,
        exclude_id: uuid.UUID | None = None,
        limit: int = 1,
    ) -> list[uuid.UUID]:
        """Ids of records whose value of `key` equals `value` (JSON equality)."""
        column = spec.custom_fields_column
        query = (
            select(spec.id_column)
            .where(column[key] == cast(value, JSONB))
            .limit(limit)
            .execution_options(**EVERY_RECORD)
        )
        if exclude_id is not None:
            query = query.where(spec.id_column != exclude_id)
        return list(await session.scalars(query))

    async def records_containing(
        self, session: AsyncSession, spec: ObjectSpec, *, key: str, value: Any
    ) -> bool:
        """Whether a record's value of `key` contains `value` (JSONB @>)."""
        column = spec.custom_fields_column
        query = (
            select(spec.id_column)
            .where(column[key].contains(value))
            .limit(1)
            .execution_options(**EVERY_RECORD)
        )
        return (await session.scalar(query)) is not None

    async def has_duplicate_values(self, session: AsyncSession, spec: ObjectSpec, key: str) -> bool:
        column = spec.custom_fields_column
        values = (
            select(column[key].label("value"))
            .where(func.jsonb_typeof(column[key]) != "null")
            .subquery()
        )
        query = (
            select(values.c.value)
            .group_by(values.c.value)
            .having(func.count() > 1)
            .limit(1)
            .execution_options(**EVERY_RECORD)
        )
        return (await session.scalar(query)) is not None

    async def remove_key(self, session: AsyncSession, spec: ObjectSpec, key: str) -> None:
        column = spec.custom_fields_column
        await session.execute(
            update(spec.model)
            .where(column.has_key(key))
            .values(custom_fields=column.op("-")(key))
            .execution_options(synchronize_session=False, **EVERY_RECORD)
        )

    async def clear_references(
        self, session: AsyncSession, spec: ObjectSpec, *, key: str, record_id: uuid.UUID
    ) -> None:
        column = spec.custom_fields_column
        await session.execute(
            update(spec.model)
            .where(column[key].astext == str(record_id))
            .values(custom_fields=column.op("-")(key))
            .execution_options(synchronize_session=False, **EVERY_RECORD)
        )


custom_field_repository = CustomFieldRepository()
