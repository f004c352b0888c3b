"""Two walls between tenants: the ORM's tenant filter and PostgreSQL row-level security."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.contacts import service as contacts
from crm_core.contacts.schemas import ContactUpdate
from crm_devstack.testing import tenant_tables_security
from crm_kit.db.session import unit_of_work
from crm_kit.errors import NotFound

from .factories import create_contact

pytestmark = pytest.mark.integration


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _insert_contact_as(
    conn: asyncpg.Connection, *, acting_tenant: uuid.UUID, row_tenant: uuid.UUID
) -> None:
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(acting_tenant))
        await conn.execute(
            "INSERT INTO contacts (id, tenant_id, first_name, last_name, email, phone,"
            " version, created_at, updated_at)"
            " VALUES ($1, $2, 'Eve', '', '', '', 1, now(), now())",
            uuid.uuid4(),
            row_tenant,
        )


class TestOrmTenantFilter:
    async def test_other_tenant_cannot_get_update_or_delete(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant)
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            with pytest.raises(NotFound):
                await contacts.get(session, contact_id=contact.id)
            with pytest.raises(NotFound):
                await contacts.update(
                    session, contact_id=contact.id, data=ContactUpdate(changes={"last_name": "X"})
                )
            with pytest.raises(NotFound):
                await contacts.delete(session, contact_id=contact.id)
            page = await contacts.list_page(session, limit=100, cursor="")
        assert page.contacts == []
        async with unit_of_work(factory, tenant_id=tenant) as session:
            still_there = await contacts.get(session, contact_id=contact.id)
        assert still_there.last_name == ""

    async def test_list_shows_only_own_tenant(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        mine = await create_contact(factory, tenant=tenant, email="mine@example.com")
        await create_contact(factory, tenant=other_tenant, email="theirs@example.com")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            page = await contacts.list_page(session, limit=100, cursor="")
        assert [c.id for c in page.contacts] == [mine.id]


class TestRowLevelSecurity:
    async def test_raw_select_without_tenant_setting_returns_nothing(
        self,
        database_urls: tuple[str, str],
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
    ) -> None:
        await create_contact(factory, tenant=tenant)
        conn = await asyncpg.connect(_plain_dsn(database_urls[0]))
        try:
            assert await conn.fetchval("SELECT count(*) FROM contacts") == 0
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
                assert await conn.fetchval("SELECT count(*) FROM contacts") == 1
            assert await conn.fetchval("SELECT count(*) FROM contacts") == 0
        finally:
            await conn.close()

    async def test_raw_insert_for_another_tenant_is_refused(
        self, database_urls: tuple[str, str], tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        conn = await asyncpg.connect(_plain_dsn(database_urls[0]))
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await _insert_contact_as(conn, acting_tenant=tenant, row_tenant=other_tenant)
        finally:
            await conn.close()

    async def test_runtime_role_cannot_bypass_rls(self, database_urls: tuple[str, str]) -> None:
        conn = await asyncpg.connect(_plain_dsn(database_urls[0]))
        try:
            role = await conn.fetchrow(
                "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
            )
            owned = await conn.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                " AND tableowner = current_user"
            )
        finally:
            await conn.close()
        assert role is not None
        assert (role["rolsuper"], role["rolbypassrls"], owned) == (False, False, 0)


class TestSchemaRules:
    async def test_every_tenant_owned_table_has_forced_rls_and_a_policy(
        self, database_urls: tuple[str, str]
    ) -> None:
        tables = await tenant_tables_security(database_urls[1])
        # The outbox is read by the relay across tenants; only this service's role reads it.
        tables.pop("outbox")
        # So is the export queue, by the export workers: it holds job ids and times only.
        tables.pop("export_queue")
        # Import workers claim queued jobs across tenants; the queue holds ids and leases.
        tables.pop("import_queue")
        assert tables == {
            "activities": (True, True, 1),
            # Its second policy lets a transaction carrying one public key read that form.
            "capture_forms": (True, True, 2),
            "companies": (True, True, 1),
            "contact_companies": (True, True, 1),
            "contacts": (True, True, 1),
            "custom_field_definitions": (True, True, 1),
            "deal_contacts": (True, True, 1),
            "deal_stage_history": (True, True, 1),
            "deals": (True, True, 1),
            "export_jobs": (True, True, 1),
            "files": (True, True, 1),
            "form_submissions": (True, True, 1),
            "import_errors": (True, True, 1),
            "import_jobs": (True, True, 1),
            "leads": (True, True, 1),
            "notes": (True, True, 1),
            "pipelines": (True, True, 1),
            "record_changes": (True, True, 1),
            "record_links": (True, True, 1),
            "record_merges": (True, True, 1),
            "record_tags": (True, True, 1),
            "record_visibility_rules": (True, True, 1),
            "stages": (True, True, 1),
            "tags": (True, True, 1),
            "tasks": (True, True, 1),
        }
