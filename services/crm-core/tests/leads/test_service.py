"""Leads: validation, updates with versions, custom fields and search."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.deals import service as deals
from crm_core.leads import conversion
from crm_core.leads import service as leads
from crm_core.leads.schemas import LeadConversion, LeadCreate, LeadUpdate
from crm_core.models import OutboxRecord
from crm_core.queries.filters import Filter
from crm_core.queries.search import SearchParams
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, NotFound, StaleVersion

from ..companies.factories import create_company
from ..custom_fields.factories import define_field
from ..deals.factories import create_deal
from ..pipelines.factories import create_pipeline
from .factories import create_lead

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


def _where(field: str, operator: str, value: object) -> SearchParams:
    return SearchParams(filter_groups=[[Filter(field, operator, value, has_value=True)]])


class TestLeads:
    @pytest.mark.parametrize(
        ("data", "field"),
        [
            (LeadCreate(), "first_name"),
            (LeadCreate(first_name="A", source="billboard"), "source"),
            (LeadCreate(first_name="A", status="converted"), "status"),
            (LeadCreate(first_name="A", email="not-an-email"), "email"),
            (LeadCreate(first_name="A", domain="nope"), "domain"),
        ],
    )
    async def test_bad_input_names_the_field(
        self, factory: Factory, tenant: uuid.UUID, data: LeadCreate, field: str
    ) -> None:
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(InvalidArgument) as caught:
                await leads.create(session, data=data)
        assert caught.value.details["field"] == field

    async def test_defaults_update_with_version_and_tenant_wall(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        lead = await create_lead(factory, tenant=tenant, domain="https://www.Shop.example/x")
        assert (lead.source, lead.status, lead.domain) == ("manual", "new", "shop.example")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            updated = await leads.update(
                session,
                lead_id=lead.id,
                data=LeadUpdate(changes={"status": "qualified"}, expected_version=1),
            )
            assert updated.version == 2
            with pytest.raises(StaleVersion):
                await leads.update(
                    session,
                    lead_id=lead.id,
                    data=LeadUpdate(changes={"status": "contacted"}, expected_version=1),
                )
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            with pytest.raises(NotFound):
                await leads.get(session, lead_id=lead.id)
            assert (await leads.search_page(session, params=SearchParams())).rows == []


class TestEvents:
    async def test_create_update_convert_delete_each_publish(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        lead = await create_lead(factory, tenant=tenant)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await leads.update(
                session, lead_id=lead.id, data=LeadUpdate(changes={"last_name": "Ho"})
            )
            # Nothing changes: no event.
            await leads.update(
                session, lead_id=lead.id, data=LeadUpdate(changes={"last_name": "Ho"})
            )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await conversion.convert(session, lead_id=lead.id, options=LeadConversion())
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await leads.delete(session, lead_id=lead.id)
        async with unit_of_work(factory, tenant_id=None) as session:
            found = await session.scalars(
                select(OutboxRecord.event_type)
                .where(OutboxRecord.tenant_id == tenant)
                .order_by(OutboxRecord.created_at)
            )
            types = list(found)
        assert types == [
            "crm_core.lead.created",
            "crm_core.lead.updated",
            "crm_core.contact.created",
            "crm_core.lead.converted",
            "crm_core.lead.deleted",
        ]


class TestCustomFieldsAndSearch:
    async def test_lead_custom_fields_filter_sort_and_full_text(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await define_field(
            factory, tenant=tenant, key="score", field_type="number", object_type="leads"
        )
        low = await create_lead(
            factory, tenant=tenant, email="a@x.example", custom_fields={"score": 10}
        )
        high = await create_lead(
            factory,
            tenant=tenant,
            first_name="Zed",
            email="z@x.example",
            company_name="Globex",
            custom_fields={"score": 90},
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            found = await leads.search_page(
                session, params=_where("custom_fields.score", "gte", 50)
            )
            assert [r.id for r in found.rows] == [high.id]
            text = await leads.search_page(session, params=SearchParams(query="globex"))
            assert [r.id for r in text.rows] == [high.id]
            with pytest.raises(InvalidArgument) as caught:
                await leads.create(
                    session, data=LeadCreate(first_name="B", custom_fields={"score": "many"})
                )
        assert caught.value.details["field"] == "custom_fields.score"
        assert low.custom_fields == {"score": 10}

    async def test_deal_filters_by_custom_field_company_and_stage(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        await define_field(
            factory,
            tenant=tenant,
            key="tier",
            field_type="single_select",
            object_type="deals",
            options=["gold", "silver"],
        )
        retail = await create_company(factory, tenant=tenant, industry="Retail")
        gold = await create_deal(
            factory,
            tenant=tenant,
            pipeline_id=pipeline.id,
            company_id=retail.id,
            custom_fields={"tier": "gold"},
        )
        other = await create_deal(
            factory, tenant=tenant, name="Other", stage_id=pipeline.stages[1].id
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            by_tier = await deals.search_page(
                session, params=_where("custom_fields.tier", "eq", "gold")
            )
            by_company = await deals.search_page(
                session, params=_where("company.industry", "eq", "Retail")
            )
            by_stage = await deals.search_page(
                session, params=_where("stage_id", "eq", str(pipeline.stages[1].id))
            )
            by_amount = await deals.search_page(
                session, params=_where("amount_minor", "gte", 100_00)
            )
        assert [d.id for d in by_tier.rows] == [gold.id]
        assert [d.id for d in by_company.rows] == [gold.id]
        assert [d.id for d in by_stage.rows] == [other.id]
        assert {d.id for d in by_amount.rows} == {gold.id, other.id}
