"""Queries of merges: the pointers, and both records locked for the merge."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import RecordMerge
from crm_core.permissions.visibility import EVERY_RECORD
from crm_core.records.registry import ObjectSpec
from crm_kit.db.driver_reads import DriverQuery

# The pointer on the driver path (GetContact's miss): the tenant named, as RLS also does.
_SURVIVOR = DriverQuery.of(
    select(RecordMerge.survivor_id).where(
        RecordMerge.tenant_id == bindparam("tenant_id"),
        RecordMerge.merged_id == bindparam("merged_id"),
        RecordMerge.object_type == bindparam("object_type"),
    )
)


class MergeRepository:
    async def pointer(
        self, session: AsyncSession, *, object_type: str, record_id: uuid.UUID
    ) -> RecordMerge | None:
        query = select(RecordMerge).where(
            RecordMerge.merged_id == record_id, RecordMerge.object_type == object_type
        )
        return await session.scalar(query)

    async def survivor_on_driver(
        self,
        connection: asyncpg.Connection,
        *,
        tenant_id: uuid.UUID,
        object_type: str,
        record_id: uuid.UUID,
    ) -> uuid.UUID | None:
        row = await _SURVIVOR.fetchrow(
            connection, tenant_id=tenant_id, merged_id=record_id, object_type=object_type
        )
        return None if row is None else row["survivor_id"]

    async def locked(
        self, session: AsyncSession, spec: ObjectSpec, ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, Any]:
        """The records (those the caller may see), locked in id order: concurrent merges
        of the same records take turns instead of deadlocking."""
        query = (
            select(spec.model)
            .where(spec.id_column.in_(ids))
            .order_by(spec.id_column)
            .with_for_update()
        )
        return {record.id: record for record in await session.scalars(query)}

    async def exists_as(
        self, session: AsyncSession, spec: ObjectSpec, record_id: uuid.UUID
    ) -> bool:
        query = (
            select(spec.id_column)
            .where(spec.id_column == record_id)
            .execution_options(**EVERY_RECORD)
        )
        return (await session.scalar(query)) is not None

    async def add_pointer(self, session: AsyncSession, pointer: RecordMerge) -> None:
        """Records the pointer; pointers to the merged record now lead to the survivor,
        so a chain of merges resolves in one step."""
        await session.execute(
            update(RecordMerge)
            .where(RecordMerge.survivor_id == pointer.merged_id)
            .values(survivor_id=pointer.survivor_id)
            .execution_options(synchronize_session=False)
        )
        session.add(pointer)
        await session.flush()


merge_repository = MergeRepository()
