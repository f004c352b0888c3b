"""Row-level security on the timeline tables: no tenant setting, no rows."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.contacts import service as contacts
from crm_core.contacts.schemas import ContactUpdate
from crm_core.engagements import tags
from crm_core.timeline.record_refs import RecordRef
from crm_kit.db.session import unit_of_work

from ..contacts.factories import create_contact
from .factories import create_activity, create_note, create_task

pytestmark = pytest.mark.integration

TABLES = ("activities", "tasks", "notes", "record_links", "tags", "record_tags", "record_changes")


async def _seed(factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID) -> None:
    contact = await create_contact(factory, tenant=tenant)
    ref = RecordRef("contacts", contact.id)
    await create_activity(factory, tenant=tenant, refs=[ref])
    await create_task(factory, tenant=tenant, refs=[ref])
    await create_note(factory, tenant=tenant, refs=[ref])
    async with unit_of_work(factory, tenant_id=tenant) as session:
        tag = await tags.create(session, name="x", color="")
        await tags.tag_record(session, tag_id=tag.id, record=ref)
        await contacts.update(
            session, contact_id=contact.id, data=ContactUpdate(changes={"first_name": "B"})
        )


async def _counts(conn: asyncpg.Connection) -> list[int]:
    return [await conn.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES]


class TestRowLevelSecurity:
    async def test_rows_show_only_under_their_tenant(
        self,
        database_urls: tuple[str, str],
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
    ) -> None:
        await _seed(factory, tenant)
        conn = await asyncpg.connect(database_urls[0].replace("postgresql+asyncpg", "postgresql"))
        try:
            assert await _counts(conn) == [0] * 7
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
                assert await _counts(conn) == [1, 1, 1, 3, 1, 1, 1]
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(other_tenant)
                )
                assert await _counts(conn) == [0] * 7
        finally:
            await conn.close()
