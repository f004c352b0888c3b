"""Deleting a record: items only on it go, shared items stay detached, tags and history go."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.contacts import service as contacts
from crm_core.contacts.schemas import ContactUpdate
from crm_core.engagements import tags
from crm_core.engagements.items import delete_item
from crm_core.engagements.links import links_of
from crm_core.engagements.notes import NOTE
from crm_core.models import Note, OutboxRecord, RecordChange, RecordTag, Task
from crm_core.timeline.record_refs import RecordRef
from crm_kit.db.session import unit_of_work

from ..companies.factories import create_company
from ..contacts.factories import create_contact
from ..engagements.factories import create_note, create_task

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


class TestDeletingARecord:
    async def test_applies_the_rules(self, factory: Factory, tenant: uuid.UUID) -> None:
        contact = await create_contact(factory, tenant=tenant)
        company = await create_company(factory, tenant=tenant)
        mine = RecordRef("contacts", contact.id)
        theirs = RecordRef("companies", company.id)
        only_mine = await create_note(factory, tenant=tenant, refs=[mine])
        shared = await create_task(factory, tenant=tenant, refs=[mine, theirs])
        async with unit_of_work(factory, tenant_id=tenant) as session:
            tag = await tags.create(session, name="Hot", color="")
            await tags.tag_record(session, tag_id=tag.id, record=mine)
            await contacts.update(
                session, contact_id=contact.id, data=ContactUpdate(changes={"first_name": "Zed"})
            )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await contacts.delete(session, contact_id=contact.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            assert await session.get(Note, only_mine.id) is None
            assert await session.get(Task, shared.id) is not None
            assert (await links_of(session, "task", [shared.id]))[shared.id] == [theirs]
            assert [t.id for t in await tags.list_all(session)] == [tag.id]
            for model in (RecordTag, RecordChange):
                count = select(func.count()).select_from(model).where(model.record_id == contact.id)
                assert await session.scalar(count) == 0
            deleted = select(func.count()).where(OutboxRecord.event_type == "crm_core.note.deleted")
            assert await session.scalar(deleted) == 1

    async def test_deleting_an_item_keeps_its_records(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant)
        note = await create_note(factory, tenant=tenant, refs=[RecordRef("contacts", contact.id)])
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await delete_item(session, NOTE, note.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            assert await contacts.get(session, contact_id=contact.id)
            assert (await links_of(session, "note", [note.id]))[note.id] == []
