"""Companies: CRUD, domain normalization, duplicates, contact links and tenant walls."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.companies import service as companies
from crm_core.companies.schemas import CompanyCreate, CompanyUpdate
from crm_core.contacts import service as contacts
from crm_core.contacts.schemas import ContactCreate, ContactUpdate
from crm_core.models import OutboxRecord
from crm_core.queries.search import SearchParams
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Conflict, InvalidArgument, NotFound, StaleVersion

from ..contacts.factories import create_contact
from .factories import create_company

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


async def _event_types(factory: Factory, tenant: uuid.UUID) -> list[str]:
    async with unit_of_work(factory, tenant_id=None) as session:
        query = select(OutboxRecord.event_type).where(OutboxRecord.tenant_id == tenant)
        return sorted(await session.scalars(query))


class TestCrud:
    @pytest.mark.parametrize(
        ("given", "stored"),
        [
            ("https://www.Acme.COM/about?x=1", "acme.com"),
            ("acme.co.uk", "acme.co.uk"),
            ("HTTP://shop.acme.io:8080", "shop.acme.io"),
            ("", ""),
        ],
    )
    async def test_domain_is_normalized(
        self, factory: Factory, tenant: uuid.UUID, given: str, stored: str
    ) -> None:
        company = await create_company(factory, tenant=tenant, domain=given)
        assert company.domain == stored

    @pytest.mark.parametrize("domain", ["localhost", "not a domain", "-bad-.com", "a..b"])
    async def test_invalid_domain_is_refused(
        self, factory: Factory, tenant: uuid.UUID, domain: str
    ) -> None:
        with pytest.raises(InvalidArgument) as caught:
            await create_company(factory, tenant=tenant, domain=domain)
        assert caught.value.details["field"] == "domain"

    async def test_update_with_version_then_delete_writes_events(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        company = await create_company(factory, tenant=tenant, domain="acme.com")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            updated = await companies.update(
                session,
                company_id=company.id,
                data=CompanyUpdate(changes={"industry": "Retail"}, expected_version=1),
            )
            assert (updated.industry, updated.version) == ("Retail", 2)
            with pytest.raises(StaleVersion):
                await companies.update(
                    session,
                    company_id=company.id,
                    data=CompanyUpdate(changes={"name": "X"}, expected_version=1),
                )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await companies.delete(session, company_id=company.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(NotFound):
                await companies.get(session, company_id=company.id)
        assert await _event_types(factory, tenant) == [
            "crm_core.company.created",
            "crm_core.company.deleted",
            "crm_core.company.updated",
        ]

    async def test_unchanged_update_writes_no_event(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        company = await create_company(factory, tenant=tenant, industry="Retail")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            same = await companies.update(
                session, company_id=company.id, data=CompanyUpdate(changes={"industry": "Retail"})
            )
        assert same.version == 1
        assert await _event_types(factory, tenant) == ["crm_core.company.created"]


class TestDuplicates:
    async def test_same_domain_is_a_conflict_with_candidates(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        first = await create_company(factory, tenant=tenant, domain="acme.com")
        with pytest.raises(Conflict) as caught:
            await create_company(
                factory, tenant=tenant, name="Acme 2", domain="https://www.acme.com"
            )
        assert caught.value.code == "duplicate_company"
        assert caught.value.details["candidates"] == [str(first.id)]
        async with unit_of_work(factory, tenant_id=tenant) as session:
            second = await companies.create(
                session,
                data=CompanyCreate(name="Acme 2", domain="acme.com", allow_duplicate=True),
            )
        assert second.domain == "acme.com"

    async def test_contact_with_same_email_or_phone_is_a_conflict(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        first = await create_contact(
            factory, tenant=tenant, email="grace@navy.example", phone="+44 20 7946 0958"
        )
        for data in (
            ContactCreate(email="GRACE@navy.example"),
            ContactCreate(first_name="G", phone="+442079460958"),
        ):
            async with unit_of_work(factory, tenant_id=tenant) as session:
                with pytest.raises(Conflict) as caught:
                    await contacts.create(session, data=data)
            assert caught.value.code == "duplicate_contact"
            assert caught.value.details["candidates"] == [str(first.id)]
        again = await create_contact(
            factory, tenant=tenant, email="grace@navy.example", allow_duplicate=True
        )
        assert again.id != first.id

    async def test_update_to_another_companys_domain_is_a_conflict(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        acme = await create_company(factory, tenant=tenant, domain="acme.com")
        other = await create_company(factory, tenant=tenant, name="Other", domain="other.com")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(Conflict) as caught:
                await companies.update(
                    session,
                    company_id=other.id,
                    data=CompanyUpdate(changes={"domain": "https://www.ACME.com"}),
                )
        assert caught.value.code == "duplicate_company"
        assert caught.value.details["candidates"] == [str(acme.id)]
        async with unit_of_work(factory, tenant_id=tenant) as session:
            # Its own domain again, and other fields, are no duplicate of itself.
            await companies.update(
                session,
                company_id=acme.id,
                data=CompanyUpdate(changes={"domain": "acme.com", "name": "Acme Inc"}),
            )
            moved = await companies.update(
                session,
                company_id=other.id,
                data=CompanyUpdate(changes={"domain": "acme.com"}, allow_duplicate=True),
            )
        assert moved.domain == "acme.com"
        async with unit_of_work(factory, tenant_id=tenant) as session:
            # An allowed duplicate does not block changing something else.
            renamed = await companies.update(
                session, company_id=other.id, data=CompanyUpdate(changes={"name": "Renamed"})
            )
        assert renamed.name == "Renamed"

    async def test_update_to_another_contacts_email_or_phone_is_a_conflict(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        grace = await create_contact(
            factory, tenant=tenant, email="grace@navy.example", phone="+44 20 7946 0958"
        )
        ada = await create_contact(factory, tenant=tenant, email="ada@example.com")
        for changes in ({"email": "Grace@navy.example"}, {"phone": "+442079460958"}):
            async with unit_of_work(factory, tenant_id=tenant) as session:
                with pytest.raises(Conflict) as caught:
                    await contacts.update(
                        session, contact_id=ada.id, data=ContactUpdate(changes=changes)
                    )
            assert caught.value.code == "duplicate_contact"
            assert caught.value.details["candidates"] == [str(grace.id)]
        async with unit_of_work(factory, tenant_id=tenant) as session:
            # Its own email in another case, and its own phone retyped, are not duplicates.
            same = ContactUpdate(changes={"email": "GRACE@navy.example", "phone": "+442079460958"})
            await contacts.update(session, contact_id=grace.id, data=same)
            allowed = ContactUpdate(changes={"email": "grace@navy.example"}, allow_duplicate=True)
            moved = await contacts.update(session, contact_id=ada.id, data=allowed)
        assert moved.email == "grace@navy.example"
        async with unit_of_work(factory, tenant_id=tenant) as session:
            renamed = await contacts.update(
                session, contact_id=ada.id, data=ContactUpdate(changes={"first_name": "Ada"})
            )
        assert renamed.first_name == "Ada"

    async def test_duplicates_are_per_tenant(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        await create_company(factory, tenant=tenant, domain="acme.com")
        await create_company(factory, tenant=other_tenant, domain="acme.com")
        await create_contact(factory, tenant=tenant, email="a@example.com")
        await create_contact(factory, tenant=other_tenant, email="a@example.com")


class TestContactLinks:
    async def test_contact_companies_primary_first_and_replaced(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        a = await create_company(factory, tenant=tenant, name="A")
        b = await create_company(factory, tenant=tenant, name="B")
        contact = await create_contact(factory, tenant=tenant, company_ids=[b.id, a.id])
        async with unit_of_work(factory, tenant_id=tenant) as session:
            assert (await contacts.company_ids(session, [contact]))[contact.id] == [b.id, a.id]
            updated = await contacts.update(
                session, contact_id=contact.id, data=ContactUpdate(company_ids=[a.id])
            )
            assert (await contacts.company_ids(session, [updated]))[contact.id] == [a.id]
        assert updated.version == contact.version + 1

    async def test_deleting_a_company_detaches_its_contacts(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        company = await create_company(factory, tenant=tenant)
        contact = await create_contact(factory, tenant=tenant, company_ids=[company.id])
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await companies.delete(session, company_id=company.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            kept = await contacts.get(session, contact_id=contact.id)
            assert (await contacts.company_ids(session, [kept]))[kept.id] == []

    async def test_deleting_a_contact_removes_its_links(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        company = await create_company(factory, tenant=tenant)
        contact = await create_contact(factory, tenant=tenant, company_ids=[company.id])
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await contacts.delete(session, contact_id=contact.id)
            count = await session.scalar(
                text("SELECT count(*) FROM contact_companies WHERE company_id = :id"),
                {"id": company.id},
            )
        assert count == 0

    async def test_another_tenants_company_cannot_be_linked(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        theirs = await create_company(factory, tenant=other_tenant)
        with pytest.raises(InvalidArgument) as caught:
            await create_contact(factory, tenant=tenant, company_ids=[theirs.id])
        assert caught.value.details["field"] == "company_ids"


class TestTenantIsolation:
    async def test_other_tenant_cannot_get_update_delete_or_find(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        company = await create_company(factory, tenant=tenant, domain="acme.com")
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            with pytest.raises(NotFound):
                await companies.get(session, company_id=company.id)
            with pytest.raises(NotFound):
                await companies.update(
                    session, company_id=company.id, data=CompanyUpdate(changes={"name": "X"})
                )
            with pytest.raises(NotFound):
                await companies.delete(session, company_id=company.id)
            page = await companies.search_page(session, params=SearchParams())
            assert page.rows == []
            assert await companies.find_duplicates(session, domain="acme.com") == []

    async def test_rls_hides_rows_without_the_tenant_setting(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        company = await create_company(factory, tenant=tenant)
        await create_contact(factory, tenant=tenant, company_ids=[company.id])
        async with unit_of_work(factory, tenant_id=None) as session:
            for table in ("companies", "contact_companies", "custom_field_definitions"):
                count = await session.scalar(text(f"SELECT count(*) FROM {table}"))
                assert count == 0, table
