"""Reading a contact as the API shows it: the row and its companies in one round trip."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.contacts import service as contacts
from crm_core.models import Contact
from crm_kit.db.driver_reads import tenant_read
from crm_kit.errors import NotFound

from ..companies.factories import create_company
from ..custom_fields.factories import define_field
from .factories import create_contact

pytestmark = pytest.mark.integration


async def read(
    factory: async_sessionmaker[AsyncSession], *, tenant: uuid.UUID, contact_id: uuid.UUID
) -> tuple[Contact, list[uuid.UUID]]:
    async with tenant_read(factory, tenant_id=tenant) as connection:
        return await contacts.read(connection, tenant_id=tenant, contact_id=contact_id)


async def read_company_ids(
    factory: async_sessionmaker[AsyncSession], *, tenant: uuid.UUID, contact_id: uuid.UUID
) -> list[uuid.UUID]:
    contact, company_ids = await read(factory, tenant=tenant, contact_id=contact_id)
    assert contact.id == contact_id
    return company_ids


class TestRead:
    async def test_companies_come_with_the_contact_primary_first(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        first = await create_company(factory, tenant=tenant, name="Zeta", domain="zeta.example")
        second = await create_company(factory, tenant=tenant, name="Alpha", domain="alpha.example")
        contact = await create_contact(
            factory, tenant=tenant, email="", company_ids=[second.id, first.id]
        )

        assert await read_company_ids(factory, tenant=tenant, contact_id=contact.id) == [
            second.id,
            first.id,
        ]

    async def test_a_contact_without_companies_has_none(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant, email="")

        assert await read_company_ids(factory, tenant=tenant, contact_id=contact.id) == []

    async def test_every_field_reads_as_the_orm_wrote_it(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        await define_field(factory, tenant=tenant, key="score", field_type="number")
        written = await create_contact(
            factory,
            tenant=tenant,
            email="grace@example.com",
            last_name="Hopper",
            phone="+1 202 555 0143",
            custom_fields={"score": 42},
        )

        contact, _ = await read(factory, tenant=tenant, contact_id=written.id)

        columns = [c.key for c in Contact.__mapper__.column_attrs if not c.deferred]
        assert {k: getattr(contact, k) for k in columns} == {
            k: getattr(written, k) for k in columns
        }
        assert contact.custom_fields == {"score": 42}

    async def test_another_tenants_contact_is_not_found(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
    ) -> None:
        contact = await create_contact(factory, tenant=other_tenant, email="")

        with pytest.raises(NotFound):
            await read(factory, tenant=tenant, contact_id=contact.id)

    async def test_rls_alone_still_hides_another_tenants_contact(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
    ) -> None:
        """Even a statement that named the wrong tenant would see nothing: app.tenant_id
        is the caller's, and RLS filters on it."""
        contact = await create_contact(factory, tenant=other_tenant, email="")

        async with tenant_read(factory, tenant_id=tenant) as connection:
            visible = await connection.fetchval(
                "SELECT count(*) FROM contacts WHERE id = $1", contact.id
            )
        assert visible == 0

    async def test_the_transaction_is_read_only(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        async with tenant_read(factory, tenant_id=tenant) as connection:
            with pytest.raises(asyncpg.exceptions.ReadOnlySQLTransactionError):
                await connection.execute("DELETE FROM contacts")
