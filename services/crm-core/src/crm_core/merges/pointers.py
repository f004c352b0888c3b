"""A merged record's id answers NotFound with code `merged`, naming its survivor."""

from __future__ import annotations

import uuid

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.merges.repository import merge_repository
from crm_kit.errors import NotFound


def _merged(label: str, survivor_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"this {label} was merged into {survivor_id}",
        code="merged",
        survivor_id=str(survivor_id),
    )


async def refuse_merged(
    session: AsyncSession, *, object_type: str, label: str, record_id: uuid.UUID
) -> None:
    """Raises the `merged` NotFound when the id was merged; called on a miss only."""
    found = await merge_repository.pointer(session, object_type=object_type, record_id=record_id)
    if found is not None:
        raise _merged(label, found.survivor_id)


async def refuse_merged_on_driver(
    connection: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    object_type: str,
    label: str,
    record_id: uuid.UUID,
) -> None:
    """`refuse_merged` for the driver reads (GetContact), on their miss path only."""
    survivor_id = await merge_repository.survivor_on_driver(
        connection, tenant_id=tenant_id, object_type=object_type, record_id=record_id
    )
    if survivor_id is not None:
        raise _merged(label, survivor_id)
