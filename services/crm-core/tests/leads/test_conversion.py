"""Lead conversion: one transaction, reuse over duplicates, fill only what is empty."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.companies import service as companies
from crm_core.contacts import service as contacts
from crm_core.deals import service as deals
from crm_core.leads import conversion
from crm_core.leads import service as leads
from crm_core.leads.schemas import ConvertDeal, LeadConversion, LeadUpdate
from crm_core.models import Company, Contact, Deal, OutboxRecord
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Conflict, InvalidArgument

from ..companies.factories import create_company
from ..contacts.factories import create_contact
from ..pipelines.factories import create_default_pipeline, create_pipeline
from .factories import create_lead

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


async def _convert(
    factory: Factory, tenant: uuid.UUID, lead_id: uuid.UUID, options: LeadConversion
) -> conversion.Conversion:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await conversion.convert(session, lead_id=lead_id, options=options)


async def _counts(factory: Factory, tenant: uuid.UUID) -> tuple[int, int, int]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return (
            await session.scalar(select(func.count()).select_from(Contact)) or 0,
            await session.scalar(select(func.count()).select_from(Company)) or 0,
            await session.scalar(select(func.count()).select_from(Deal)) or 0,
        )


class TestConvert:
    async def test_creates_contact_company_and_deal_linked_together(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_default_pipeline(factory, tenant=tenant)
        lead = await create_lead(
            factory, tenant=tenant, last_name="Ho", company_name="Prospect", domain="prospect.io"
        )
        result = await _convert(
            factory,
            tenant,
            lead.id,
            LeadConversion(create_company=True, deal=ConvertDeal(currency="USD", amount_minor=900)),
        )
        assert (result.contact_created, result.company_created) == (True, True)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            contact = await contacts.get(session, contact_id=result.contact_id)
            company = await companies.get(session, company_id=result.company_id)  # type: ignore[arg-type]
            deal = await deals.get(session, deal_id=result.deal_id)  # type: ignore[arg-type]
            assert (await contacts.company_ids(session, [contact]))[contact.id] == [company.id]
            assert (await deals.contact_ids(session, [deal]))[deal.id] == [contact.id]
            converted = await leads.get(session, lead_id=lead.id)
        assert (contact.first_name, contact.last_name, contact.email) == (
            "Lin",
            "Ho",
            "lin@prospect.example",
        )
        assert (company.name, company.domain) == ("Prospect", "prospect.io")
        assert (deal.name, deal.company_id, deal.pipeline_id) == (
            "Prospect",
            company.id,
            pipeline.id,
        )
        assert converted.status == "converted"
        assert converted.converted_at is not None
        assert (
            converted.converted_contact_id,
            converted.converted_company_id,
            converted.converted_deal_id,
        ) == (contact.id, company.id, deal.id)

    async def test_matches_company_by_domain_and_contact_by_email_filling_only_empty(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        company = await create_company(factory, tenant=tenant, name="Acme", domain="acme.example")
        existing = await create_contact(
            factory, tenant=tenant, first_name="Linda", email="LIN@prospect.example"
        )
        lead = await create_lead(
            factory,
            tenant=tenant,
            last_name="Ho",
            phone="+44 20 7946 0000",
            company_name="Acme Renamed",
            domain="https://www.acme.example",
        )
        result = await _convert(factory, tenant, lead.id, LeadConversion(create_company=True))
        assert (result.contact_id, result.contact_created) == (existing.id, False)
        assert (result.company_id, result.company_created) == (company.id, False)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            contact = await contacts.get(session, contact_id=existing.id)
            linked = (await contacts.company_ids(session, [contact]))[contact.id]
            kept = await companies.get(session, company_id=company.id)
        # The first name was set, so it stays; the empty last name and phone are filled.
        assert (contact.first_name, contact.last_name, contact.phone) == (
            "Linda",
            "Ho",
            "+44 20 7946 0000",
        )
        assert linked == [company.id]
        assert kept.name == "Acme"
        assert await _counts(factory, tenant) == (1, 1, 0)

    async def test_converting_twice_is_a_conflict(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        lead = await create_lead(factory, tenant=tenant)
        await _convert(factory, tenant, lead.id, LeadConversion())
        with pytest.raises(Conflict) as caught:
            await _convert(factory, tenant, lead.id, LeadConversion())
        assert caught.value.code == "lead_already_converted"
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(Conflict):
                await leads.update(
                    session, lead_id=lead.id, data=LeadUpdate(changes={"status": "qualified"})
                )
        assert await _counts(factory, tenant) == (1, 0, 0)

    @pytest.mark.parametrize(
        ("deal", "field"),
        [
            (ConvertDeal(currency="USD", amount_minor=-5), "amount_minor"),
            (ConvertDeal(currency="NOPE"), "currency"),
            (ConvertDeal(currency="USD", stage_id=uuid.uuid4()), "stage_id"),
        ],
    )
    async def test_a_failing_step_leaves_nothing_half_written(
        self, factory: Factory, tenant: uuid.UUID, deal: ConvertDeal, field: str
    ) -> None:
        await create_pipeline(factory, tenant=tenant)
        lead = await create_lead(factory, tenant=tenant, company_name="Half", domain="half.example")
        with pytest.raises(InvalidArgument) as caught:
            await _convert(factory, tenant, lead.id, LeadConversion(create_company=True, deal=deal))
        assert caught.value.details["field"] == field
        assert await _counts(factory, tenant) == (0, 0, 0)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            untouched = await leads.get(session, lead_id=lead.id)
            events = await session.scalar(
                select(func.count())
                .select_from(OutboxRecord)
                .where(OutboxRecord.event_type != "crm_core.lead.created")
                .where(OutboxRecord.event_type != "crm_core.pipeline.created")
                .where(OutboxRecord.tenant_id == tenant)
                .execution_options(skip_tenant_filter=True)
            )
        assert (untouched.status, untouched.converted_contact_id, untouched.version) == (
            "new",
            None,
            1,
        )
        assert events == 0

    async def test_company_needs_a_name_or_domain(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        lead = await create_lead(factory, tenant=tenant)
        with pytest.raises(InvalidArgument) as caught:
            await _convert(factory, tenant, lead.id, LeadConversion(create_company=True))
        assert caught.value.code == "company_required"

    async def test_deleting_a_converted_lead_keeps_what_it_became(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        lead = await create_lead(factory, tenant=tenant, company_name="Keep", domain="keep.example")
        await _convert(factory, tenant, lead.id, LeadConversion(create_company=True))
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await leads.delete(session, lead_id=lead.id)
        assert await _counts(factory, tenant) == (1, 1, 0)


class TestConcurrency:
    async def test_two_concurrent_conversions_one_wins(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        lead = await create_lead(factory, tenant=tenant)
        outcomes = await asyncio.gather(
            _convert(factory, tenant, lead.id, LeadConversion()),
            _convert(factory, tenant, lead.id, LeadConversion()),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, Conflict)]
        assert len(refused) == 1
        assert refused[0].code == "lead_already_converted"
        assert await _counts(factory, tenant) == (1, 0, 0)
