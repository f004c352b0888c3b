"""Which records an activity, task or note is attached to."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import RecordLink
from crm_core.timeline.record_refs import RecordRef


async def links_of(
    session: AsyncSession, item_type: str, item_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[RecordRef]]:
    """Each item's records, sorted by type then id."""
    query = (
        select(RecordLink.item_id, RecordLink.record_type, RecordLink.record_id)
        .where(RecordLink.item_type == item_type, RecordLink.item_id.in_(item_ids))
        .order_by(RecordLink.item_id, RecordLink.record_type, RecordLink.record_id)
    )
    found: dict[uuid.UUID, list[RecordRef]] = {i: [] for i in item_ids}
    for item_id, record_type, record_id in (await session.execute(query)).all():
        found[item_id].append(RecordRef(record_type, record_id))
    return found


async def replace_links(
    session: AsyncSession, *, item_type: str, item_id: uuid.UUID, refs: Sequence[RecordRef]
) -> None:
    """The item is attached to exactly these (already checked) records."""
    await remove_links(session, item_type=item_type, item_id=item_id)
    for ref in refs:
        session.add(
            RecordLink(
                item_type=item_type,
                item_id=item_id,
                record_type=ref.record_type,
                record_id=ref.record_id,
            )
        )
    await session.flush()


async def remove_links(session: AsyncSession, *, item_type: str, item_id: uuid.UUID) -> None:
    await session.execute(
        delete(RecordLink)
        .where(RecordLink.item_type == item_type, RecordLink.item_id == item_id)
        .execution_options(synchronize_session=False)
    )


def linked_ids(item_type: str, ref: RecordRef) -> Select[Any]:
    """The ids of the items of this type attached to the record (for list filters)."""
    return select(RecordLink.item_id).where(
        RecordLink.item_type == item_type,
        RecordLink.record_type == ref.record_type,
        RecordLink.record_id == ref.record_id,
    )
