"""Row-level security on the tables of leads and deals: no tenant setting, no rows."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..contacts.factories import create_contact
from ..leads.factories import create_lead
from ..pipelines.factories import create_pipeline
from .factories import create_deal

pytestmark = pytest.mark.integration

TABLES = ("leads", "deals", "deal_contacts", "deal_stage_history")


async def _seed(factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID) -> None:
    pipeline = await create_pipeline(factory, tenant=tenant)
    contact = await create_contact(factory, tenant=tenant)
    await create_deal(factory, tenant=tenant, pipeline_id=pipeline.id, contact_ids=[contact.id])
    await create_lead(factory, tenant=tenant)


async def _counts(conn: asyncpg.Connection) -> list[int]:
    return [await conn.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES]


async def _insert_lead_as(
    conn: asyncpg.Connection, *, acting_tenant: uuid.UUID, row_tenant: uuid.UUID
) -> None:
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(acting_tenant))
        await conn.execute(
            "INSERT INTO leads (id, tenant_id, first_name, last_name, email, phone,"
            " company_name, domain, source, status, version)"
            " VALUES ($1, $2, 'Eve', '', '', '', '', '', 'manual', 'new', 1)",
            uuid.uuid4(),
            row_tenant,
        )


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
            assert await _counts(conn) == [0, 0, 0, 0]
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
                assert await _counts(conn) == [1, 1, 1, 1]
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(other_tenant)
                )
                assert await _counts(conn) == [0, 0, 0, 0]
        finally:
            await conn.close()

    async def test_raw_insert_for_another_tenant_is_refused(
        self, database_urls: tuple[str, str], tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        conn = await asyncpg.connect(database_urls[0].replace("postgresql+asyncpg", "postgresql"))
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await _insert_lead_as(conn, acting_tenant=tenant, row_tenant=other_tenant)
        finally:
            await conn.close()
