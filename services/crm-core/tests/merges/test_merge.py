"""Merging contacts and companies: everything moves, empties fill, a pointer remains."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import merges_pb2
from crm_core.companies import service as companies
from crm_core.companies.schemas import CompanyUpdate
from crm_core.contacts import service as contacts
from crm_core.deals import service as deals
from crm_core.entrypoints.merges_grpc import MergeServicer
from crm_core.merges import service as merges
from crm_core.models import (
    Activity,
    Company,
    Lead,
    OutboxRecord,
    RecordChange,
    RecordLink,
    RecordTag,
)
from crm_kit.db.driver_reads import tenant_read
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Conflict, InvalidArgument, NotFound, PermissionDenied

from ..companies.factories import create_company
from ..contacts.factories import create_contact
from ..custom_fields.factories import define_field
from ..deals.factories import create_deal
from ..leads.factories import create_lead
from ..permissions.factories import calling_as
from ..pipelines.factories import create_pipeline
from .factories import add_activity, attach_items, mark_converted

pytestmark = pytest.mark.integration


async def _merge(
    factory: async_sessionmaker[AsyncSession],
    tenant: uuid.UUID,
    object_type: str,
    survivor: uuid.UUID,
    merged: uuid.UUID,
) -> merges.MergeResult:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await merges.merge(
            session, object_type=object_type, survivor_id=survivor, merged_id=merged
        )


async def _scalars(
    factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID, query: Any
) -> list[Any]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return list(await session.scalars(query))


class TestMergeContacts:
    async def test_everything_moves_to_the_survivor_and_empties_fill(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        await define_field(factory, tenant=tenant, key="score", field_type="number")
        await define_field(
            factory,
            tenant=tenant,
            key="main_contact",
            field_type="relation",
            object_type="companies",
            relation_object_type="contacts",
        )
        shared = await create_company(factory, tenant=tenant, name="Shared")
        other = await create_company(factory, tenant=tenant, name="Other")
        survivor = await create_contact(
            factory, tenant=tenant, email="ada@acme.example", company_ids=[shared.id]
        )
        merged = await create_contact(
            factory,
            tenant=tenant,
            email="ada@old.example",
            last_name="Lovelace",
            phone="+1 202 555 0143",
            custom_fields={"score": 7},
            company_ids=[other.id, shared.id],
            allow_duplicate=True,
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await companies.update(
                session,
                company_id=other.id,
                data=CompanyUpdate(custom_fields={"main_contact": str(merged.id)}),
            )
        pipeline = await create_pipeline(factory, tenant=tenant)
        only_merged = await create_deal(
            factory, tenant=tenant, pipeline_id=pipeline.id, contact_ids=[merged.id]
        )
        both = await create_deal(
            factory, tenant=tenant, pipeline_id=pipeline.id, contact_ids=[survivor.id, merged.id]
        )
        lead = await create_lead(factory, tenant=tenant)
        await mark_converted(factory, tenant=tenant, lead_id=lead.id, contact_id=merged.id)
        items = await attach_items(
            factory, tenant=tenant, record_type="contacts", record_id=merged.id
        )
        activity = await add_activity(factory, tenant=tenant, participants=[merged.id, survivor.id])

        result = await _merge(factory, tenant, "contacts", survivor.id, merged.id)

        assert result.filled_fields == ["last_name", "phone", "custom_fields.score"]
        async with unit_of_work(factory, tenant_id=tenant) as session:
            kept = await contacts.get(session, contact_id=survivor.id)
            linked = (await contacts.company_ids(session, [kept]))[kept.id]
            deal_contacts = await deals.contact_ids(
                session, [await deals.get(session, deal_id=i) for i in (only_merged.id, both.id)]
            )
            relation = (await session.get(Company, other.id)).custom_fields  # type: ignore[union-attr]
            converted = (await session.get(Lead, lead.id)).converted_contact_id  # type: ignore[union-attr]
            participants = (await session.get(Activity, activity)).participant_contact_ids  # type: ignore[union-attr]
        assert (kept.email, kept.last_name, kept.phone_e164) == (
            "ada@acme.example",
            "Lovelace",
            "+12025550143",
        )
        assert kept.custom_fields == {"score": 7}
        assert linked == [shared.id, other.id]  # the survivor's primary stays first
        assert list(deal_contacts.values()) == [[survivor.id], [survivor.id]]
        assert relation == {"main_contact": str(survivor.id)}
        assert converted == survivor.id
        assert participants == [survivor.id]
        moved = [
            await _scalars(factory, tenant, select(model.record_id).where(key == items[name]))
            for model, key, name in (
                (RecordLink, RecordLink.item_id, "note"),
                (RecordTag, RecordTag.tag_id, "tag"),
                (RecordChange, RecordChange.id, "change"),
            )
        ]
        assert moved == [[survivor.id]] * 3

    async def test_the_merged_id_answers_with_a_pointer(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        survivor = await create_contact(factory, tenant=tenant, email="s@example.com")
        merged = await create_contact(factory, tenant=tenant, email="m@example.com")
        await _merge(factory, tenant, "contacts", survivor.id, merged.id)

        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(NotFound) as on_orm:
                await contacts.get(session, contact_id=merged.id)
            pointer = await merges.pointer(session, object_type="contacts", record_id=merged.id)
            published = await session.scalar(
                select(func.count())
                .select_from(OutboxRecord)
                .where(
                    OutboxRecord.tenant_id == tenant,
                    OutboxRecord.event_type == "crm_core.contact.merged",
                )
            )
        async with tenant_read(factory, tenant_id=tenant) as connection:
            with pytest.raises(NotFound) as on_driver:
                await contacts.read(connection, tenant_id=tenant, contact_id=merged.id)
        for refused in (on_orm.value, on_driver.value):
            assert (refused.code, refused.details["survivor_id"]) == ("merged", str(survivor.id))
        assert pointer.survivor_id == survivor.id
        assert published == 1

    async def test_a_chain_of_merges_points_at_the_last_survivor(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        first, second, last = [
            await create_contact(factory, tenant=tenant, email=f"{n}@example.com")
            for n in ("first", "second", "last")
        ]
        await _merge(factory, tenant, "contacts", second.id, first.id)
        await _merge(factory, tenant, "contacts", last.id, second.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            pointer = await merges.pointer(session, object_type="contacts", record_id=first.id)
        assert pointer.survivor_id == last.id


class TestMergeCompanies:
    async def test_links_deals_and_leads_move_and_primaries_follow(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        survivor = await create_company(factory, tenant=tenant, name="Acme", domain="acme.example")
        merged = await create_company(factory, tenant=tenant, name="ACME Inc", industry="Retail")
        both = await create_contact(
            factory, tenant=tenant, email="x@example.com", company_ids=[merged.id, survivor.id]
        )
        only = await create_contact(
            factory, tenant=tenant, email="y@example.com", company_ids=[merged.id]
        )
        pipeline = await create_pipeline(factory, tenant=tenant)
        deal = await create_deal(
            factory, tenant=tenant, pipeline_id=pipeline.id, company_id=merged.id
        )
        lead = await create_lead(factory, tenant=tenant)
        await mark_converted(factory, tenant=tenant, lead_id=lead.id, company_id=merged.id)

        result = await _merge(factory, tenant, "companies", survivor.id, merged.id)

        async with unit_of_work(factory, tenant_id=tenant) as session:
            kept = await companies.get(session, company_id=survivor.id)
            links = await contacts.company_ids(
                session, [await contacts.get(session, contact_id=i) for i in (both.id, only.id)]
            )
            moved_deal = await deals.get(session, deal_id=deal.id)
            converted = (await session.get(Lead, lead.id)).converted_company_id  # type: ignore[union-attr]
            with pytest.raises(NotFound, match="merged"):
                await companies.get(session, company_id=merged.id)
        assert result.filled_fields == ["industry"]
        assert (kept.name, kept.industry) == ("Acme", "Retail")
        assert links == {both.id: [survivor.id], only.id: [survivor.id]}
        assert moved_deal.company_id == survivor.id
        assert converted == survivor.id


class TestExternalIds:
    async def test_the_survivor_keeps_its_own_and_the_merged_one_is_freed(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        survivor = await create_contact(factory, tenant=tenant, external_id="SF-1")
        merged = await create_contact(
            factory, tenant=tenant, email="ada2@example.com", external_id="HS-9"
        )

        result = await _merge(factory, tenant, "contacts", survivor.id, merged.id)

        assert "external_id" not in result.filled_fields
        assert result.survivor.external_id == "SF-1"
        # Nothing holds the merged record's id any more: a new record may take it.
        again = await create_contact(
            factory, tenant=tenant, email="ada3@example.com", external_id="HS-9"
        )
        assert again.external_id == "HS-9"

    @pytest.mark.parametrize("object_type", ["contacts", "companies"])
    async def test_a_survivor_without_one_takes_the_merged_ones(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID, object_type: str
    ) -> None:
        if object_type == "contacts":
            survivor_id = (await create_contact(factory, tenant=tenant)).id
            merged_id = (
                await create_contact(
                    factory, tenant=tenant, email="ada2@example.com", external_id="HS-9"
                )
            ).id
        else:
            survivor_id = (await create_company(factory, tenant=tenant)).id
            merged_id = (await create_company(factory, tenant=tenant, external_id="HS-9")).id

        result = await _merge(factory, tenant, object_type, survivor_id, merged_id)

        assert "external_id" in result.filled_fields
        assert result.survivor.external_id == "HS-9"
        async with unit_of_work(factory, tenant_id=tenant) as session:
            fresh = await session.get(type(result.survivor), survivor_id)
        assert fresh is not None
        assert fresh.external_id == "HS-9"


class TestRefusals:
    async def test_into_itself_across_types_and_twice(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        one = await create_contact(factory, tenant=tenant, email="one@example.com")
        two = await create_contact(factory, tenant=tenant, email="two@example.com")
        company = await create_company(factory, tenant=tenant)
        with pytest.raises(InvalidArgument, match="itself"):
            await _merge(factory, tenant, "contacts", one.id, one.id)
        with pytest.raises(InvalidArgument) as across:
            await _merge(factory, tenant, "contacts", one.id, company.id)
        await _merge(factory, tenant, "contacts", one.id, two.id)
        with pytest.raises(Conflict) as again:
            await _merge(factory, tenant, "contacts", one.id, two.id)
        with pytest.raises(InvalidArgument, match="only contacts and companies"):
            await _merge(factory, tenant, "deals", one.id, two.id)
        assert across.value.code == "object_type_mismatch"
        assert again.value.code == "already_merged"

    async def test_members_may_not_merge(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        one = await create_contact(factory, tenant=tenant, email="one@example.com")
        two = await create_contact(factory, tenant=tenant, email="two@example.com")
        request = merges_pb2.MergeRecordsRequest(
            object_type="contacts", survivor_id=str(one.id), merged_id=str(two.id)
        )
        with calling_as(tenant, uuid.uuid4(), "member"), pytest.raises(PermissionDenied):
            await MergeServicer(factory).MergeRecords(request, None)  # type: ignore[arg-type]
        with calling_as(tenant, uuid.uuid4(), "admin"):
            answer = await MergeServicer(factory).MergeRecords(request, None)  # type: ignore[arg-type]
        assert answer.survivor_id == str(one.id)

    async def test_pointers_stay_in_their_tenant(
        self,
        database_urls: tuple[str, str],
        factory: async_sessionmaker[AsyncSession],
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
    ) -> None:
        one = await create_contact(factory, tenant=tenant, email="one@example.com")
        two = await create_contact(factory, tenant=tenant, email="two@example.com")
        await _merge(factory, tenant, "contacts", one.id, two.id)
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            with pytest.raises(NotFound):
                await merges.pointer(session, object_type="contacts", record_id=two.id)
        conn = await asyncpg.connect(database_urls[0].replace("postgresql+asyncpg", "postgresql"))
        try:
            count = "SELECT count(*) FROM record_merges WHERE merged_id = $1"
            assert await conn.fetchval(count, two.id) == 0
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
                assert await conn.fetchval(count, two.id) == 1
        finally:
            await conn.close()
