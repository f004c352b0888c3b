"""Every update of a contact, company, lead or deal records {field: [old, new]} and who."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.companies import service as companies
from crm_core.companies.schemas import CompanyUpdate
from crm_core.contacts import service as contacts
from crm_core.contacts.schemas import ContactUpdate
from crm_core.deals import service as deals
from crm_core.deals.schemas import DealUpdate
from crm_core.leads import service as leads
from crm_core.leads.schemas import LeadUpdate
from crm_core.models import RecordChange
from crm_kit.context import RequestContext, bind_context
from crm_kit.db.session import unit_of_work

from ..companies.factories import create_company
from ..contacts.factories import create_contact
from ..custom_fields.factories import define_field
from ..deals.factories import create_deal
from ..leads.factories import create_lead
from ..pipelines.factories import create_pipeline

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


async def changes_of(factory: Factory, tenant: uuid.UUID, record_id: uuid.UUID) -> list[Any]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        query = (
            select(RecordChange)
            .where(RecordChange.record_id == record_id)
            .order_by(RecordChange.changed_at)
        )
        return list(await session.scalars(query))


class TestFieldHistory:
    async def test_contact_standard_and_custom_fields_with_actor(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await define_field(factory, tenant=tenant, key="tier", field_type="text")
        contact = await create_contact(factory, tenant=tenant, custom_fields={"tier": "gold"})
        actor = uuid.uuid4()
        with bind_context(RequestContext(tenant_id=tenant, user_id=actor)):
            async with unit_of_work(factory, tenant_id=tenant) as session:
                await contacts.update(
                    session,
                    contact_id=contact.id,
                    data=ContactUpdate(
                        changes={"first_name": "Grace", "last_name": "Ada"},
                        custom_fields={"tier": "silver"},
                    ),
                )
        [change] = await changes_of(factory, tenant, contact.id)
        assert change.record_type == "contacts"
        assert change.changed_by == actor
        assert change.changes == {
            "first_name": ["Ada", "Grace"],
            "last_name": ["", "Ada"],
            "custom_fields.tier": ["gold", "silver"],
        }

    async def test_an_update_that_changes_nothing_records_nothing(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await contacts.update(
                session, contact_id=contact.id, data=ContactUpdate(changes={"first_name": "Ada"})
            )
        assert await changes_of(factory, tenant, contact.id) == []

    async def test_company_lead_and_deal(self, factory: Factory, tenant: uuid.UUID) -> None:
        company = await create_company(factory, tenant=tenant, industry="retail")
        lead = await create_lead(factory, tenant=tenant)
        pipeline = await create_pipeline(factory, tenant=tenant)
        deal = await create_deal(factory, tenant=tenant, pipeline_id=pipeline.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await companies.update(
                session, company_id=company.id, data=CompanyUpdate(changes={"industry": "tech"})
            )
            await leads.update(
                session, lead_id=lead.id, data=LeadUpdate(changes={"status": "contacted"})
            )
            await deals.update(
                session,
                deal_id=deal.id,
                data=DealUpdate(changes={"amount_minor": 5000, "company_id": company.id}),
            )
        [c] = await changes_of(factory, tenant, company.id)
        [ld] = await changes_of(factory, tenant, lead.id)
        [d] = await changes_of(factory, tenant, deal.id)
        assert c.changes == {"industry": ["retail", "tech"]}
        assert ld.changes == {"status": ["new", "contacted"]}
        assert d.changes == {"amount_minor": [10000, 5000], "company_id": [None, str(company.id)]}

    async def test_a_stage_move_is_a_stage_entry_not_a_stage_id_change(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        deal = await create_deal(factory, tenant=tenant, pipeline_id=pipeline.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await deals.move(session, deal_id=deal.id, stage_id=pipeline.stages[1].id)
        [change] = await changes_of(factory, tenant, deal.id)
        assert "stage_id" not in change.changes
        assert change.changes["probability"][0] == pipeline.stages[0].probability
