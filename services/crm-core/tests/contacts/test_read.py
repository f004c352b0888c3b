"""Reading a contact as the API shows it: the row and its companies in one round trip."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.contacts import service as contacts
from crm_kit.db.session import unit_of_work
from crm_kit.errors import NotFound

from ..companies.factories import create_company
from .factories import create_contact

pytestmark = pytest.mark.integration


async def read(
    factory: async_sessionmaker[AsyncSession], *, tenant: uuid.UUID, contact_id: uuid.UUID
) -> list[uuid.UUID]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        contact, company_ids = await contacts.read(session, contact_id=contact_id)
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

        assert await read(factory, tenant=tenant, contact_id=contact.id) == [second.id, first.id]

    async def test_a_contact_without_companies_has_none(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant, email="")

        assert await read(factory, tenant=tenant, contact_id=contact.id) == []

    async def test_another_tenants_contact_is_not_found(
        self,
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
    ) -> None:
        contact = await create_contact(factory, tenant=other_tenant, email="")

        with pytest.raises(NotFound):
            await read(factory, tenant=tenant, contact_id=contact.id)
