"""Things that hang on a record, attached directly, for merge tests."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import Activity, Lead, Note, RecordChange, RecordLink, RecordTag, Tag
from crm_kit.db.models import new_id
from crm_kit.db.session import unit_of_work


async def attach_items(
    factory: async_sessionmaker[AsyncSession],
    *,
    tenant: uuid.UUID,
    record_type: str,
    record_id: uuid.UUID,
) -> dict[str, uuid.UUID]:
    """A note linked to the record, a tag on it and one entry of its history."""
    ids = {"note": new_id(), "tag": new_id(), "change": new_id()}
    async with unit_of_work(factory, tenant_id=tenant) as session:
        session.add(Note(id=ids["note"], body_html="<p>met</p>"))
        session.add(Tag(id=ids["tag"], name=f"vip-{ids['tag'].hex[:6]}"))
        session.add(
            RecordChange(id=ids["change"], record_type=record_type, record_id=record_id, changes={})
        )
        await session.flush()
        session.add(
            RecordLink(
                item_type="note", item_id=ids["note"], record_type=record_type, record_id=record_id
            )
        )
        session.add(RecordTag(tag_id=ids["tag"], record_type=record_type, record_id=record_id))
    return ids


async def add_activity(
    factory: async_sessionmaker[AsyncSession], *, tenant: uuid.UUID, participants: list[uuid.UUID]
) -> uuid.UUID:
    activity_id = new_id()
    async with unit_of_work(factory, tenant_id=tenant) as session:
        session.add(
            Activity(
                id=activity_id, kind="call", subject="Intro", participant_contact_ids=participants
            )
        )
    return activity_id


async def mark_converted(
    factory: async_sessionmaker[AsyncSession],
    *,
    tenant: uuid.UUID,
    lead_id: uuid.UUID,
    contact_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
) -> None:
    """As a lead conversion leaves it: pointing at what it became."""
    async with unit_of_work(factory, tenant_id=tenant) as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        lead.converted_contact_id = contact_id
        lead.converted_company_id = company_id
