"""Bulk writes: each item in its own savepoint, reported on its own."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import contacts_pb2, deals_pb2, leads_pb2, records_pb2
from crm_core.contacts import service as contacts
from crm_core.entrypoints.deals_grpc import DealServicer
from crm_core.entrypoints.grpc_server import ContactServicer
from crm_core.entrypoints.leads_grpc import LeadServicer
from crm_core.models import Contact, Deal, Lead, OutboxRecord
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, PermissionDenied

from ..contacts.factories import create_contact
from ..deals.factories import create_deal
from ..leads.factories import create_lead
from ..permissions.factories import calling_as, set_visibility
from ..pipelines.factories import create_pipeline

pytestmark = pytest.mark.integration

CTX: Any = None


def _create(email: str, **extra: Any) -> contacts_pb2.CreateContactRequest:
    return contacts_pb2.CreateContactRequest(first_name="Ada", email=email, **extra)


def _outcomes(response: records_pb2.BulkResponse) -> list[tuple[int, str]]:
    return [(r.index, r.error_code or "ok") for r in response.results]


async def _events(factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID, kind: str) -> int:
    async with unit_of_work(factory, tenant_id=None) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxRecord)
            .where(OutboxRecord.tenant_id == tenant, OutboxRecord.event_type == kind)
        )
    return int(count or 0)


async def _emails(factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID) -> list[str]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return sorted(await session.scalars(select(Contact.email)))


async def _bulk(
    factory: async_sessionmaker[AsyncSession],
    tenant: uuid.UUID,
    request: contacts_pb2.BulkContactsRequest,
    role: str = "admin",
    user: uuid.UUID | None = None,
) -> records_pb2.BulkResponse:
    with calling_as(tenant, user or uuid.uuid4(), role):
        return await ContactServicer(factory).BulkContacts(request, CTX)


class TestBulkCreate:
    async def test_bad_items_are_reported_and_good_ones_applied(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        request = contacts_pb2.BulkContactsRequest(
            creates=[
                _create("one@example.com"),
                _create("one@example.com"),  # a duplicate of the first, now applied
                _create("two@example.com", company_ids=[str(uuid.uuid4())]),
                _create("three@example.com"),
            ]
        )
        response = await _bulk(factory, tenant, request, role="member")

        assert _outcomes(response) == [
            (0, "ok"),
            (1, "duplicate_contact"),
            (2, "company_not_found"),
            (3, "ok"),
        ]
        assert response.results[1].error_status == "ALREADY_EXISTS"
        assert await _emails(factory, tenant) == ["one@example.com", "three@example.com"]
        assert await _events(factory, tenant, "crm_core.contact.created") == 2


class TestBulkUpdate:
    async def test_a_stale_or_missing_item_leaves_the_record_untouched(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        fresh = await create_contact(factory, tenant=tenant, email="fresh@example.com")
        stale = await create_contact(factory, tenant=tenant, email="stale@example.com")
        request = contacts_pb2.BulkContactsRequest(
            updates=[
                contacts_pb2.UpdateContactRequest(
                    id=str(fresh.id), last_name="New", expected_version=fresh.version
                ),
                contacts_pb2.UpdateContactRequest(
                    id=str(stale.id), last_name="New", expected_version=stale.version + 1
                ),
                contacts_pb2.UpdateContactRequest(id=str(uuid.uuid4()), last_name="New"),
            ]
        )
        response = await _bulk(factory, tenant, request, role="member")

        assert _outcomes(response) == [(0, "ok"), (1, "version_mismatch"), (2, "contact_not_found")]
        async with unit_of_work(factory, tenant_id=tenant) as session:
            names = {
                c.email: (c.last_name, c.version) for c in await session.scalars(select(Contact))
            }
        assert names == {
            "fresh@example.com": ("New", fresh.version + 1),
            "stale@example.com": ("", stale.version),
        }
        assert await _events(factory, tenant, "crm_core.contact.updated") == 1

    async def test_a_member_with_own_visibility_cannot_touch_others(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        alice = uuid.uuid4()
        others = await create_contact(factory, tenant=tenant, owner_id=uuid.uuid4())
        await set_visibility(factory, tenant=tenant, visibility="own")
        request = contacts_pb2.BulkContactsRequest(
            updates=[contacts_pb2.UpdateContactRequest(id=str(others.id), last_name="X")]
        )
        response = await _bulk(factory, tenant, request, role="member", user=alice)
        assert _outcomes(response) == [(0, "contact_not_found")]


class TestBulkDelete:
    async def test_deletes_what_exists_and_reports_the_rest(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant)
        request = contacts_pb2.BulkContactsRequest(
            delete_ids=[str(contact.id), "not-an-id", str(contact.id)]
        )
        response = await _bulk(factory, tenant, request)

        assert [r.error_status or "OK" for r in response.results] == [
            "OK",
            "NOT_FOUND",  # a malformed id is no record, as on GET
            "NOT_FOUND",  # deleted by the first item
        ]
        assert response.results[0].id == str(contact.id)
        assert await _emails(factory, tenant) == []

    async def test_members_may_not_delete(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant)
        request = contacts_pb2.BulkContactsRequest(delete_ids=[str(contact.id)])
        with pytest.raises(PermissionDenied):
            await _bulk(factory, tenant, request, role="member")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            assert (await contacts.get(session, contact_id=contact.id)).id == contact.id


class TestBulkShape:
    @pytest.mark.parametrize("count", [0, 101])
    async def test_item_count_is_one_to_a_hundred(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID, count: int
    ) -> None:
        request = contacts_pb2.BulkContactsRequest(
            creates=[_create(f"c{i}@example.com") for i in range(count)]
        )
        with pytest.raises(InvalidArgument):
            await _bulk(factory, tenant, request)
        assert await _emails(factory, tenant) == []

    async def test_one_operation_per_call(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        request = contacts_pb2.BulkContactsRequest(
            creates=[_create("a@example.com")], delete_ids=[str(uuid.uuid4())]
        )
        with pytest.raises(InvalidArgument, match="exactly one operation"):
            await _bulk(factory, tenant, request)


class TestEveryRecordType:
    async def test_leads_and_deals_report_each_item(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        lead = await create_lead(factory, tenant=tenant)
        deal = await create_deal(factory, tenant=tenant, pipeline_id=pipeline.id)
        leads_request = leads_pb2.BulkLeadsRequest(
            updates=[
                leads_pb2.UpdateLeadRequest(id=str(lead.id), last_name="Lovelace"),
                leads_pb2.UpdateLeadRequest(id=str(uuid.uuid4()), last_name="Nobody"),
            ]
        )
        deals_request = deals_pb2.BulkDealsRequest(
            creates=[
                deals_pb2.CreateDealRequest(
                    name="New", currency="EUR", pipeline_id=str(pipeline.id)
                ),
                deals_pb2.CreateDealRequest(name="Bad", currency="EUR", pipeline_id="nope"),
            ]
        )
        with calling_as(tenant, uuid.uuid4(), "admin"):
            on_leads = await LeadServicer(factory).BulkLeads(leads_request, CTX)
            on_deals = await DealServicer(factory).BulkDeals(deals_request, CTX)
            deleted = await DealServicer(factory).BulkDeals(
                deals_pb2.BulkDealsRequest(delete_ids=[str(deal.id)]), CTX
            )
        assert _outcomes(on_leads) == [(0, "ok"), (1, "lead_not_found")]
        assert [r.error_status or "OK" for r in on_deals.results] == ["OK", "INVALID_ARGUMENT"]
        assert on_deals.results[1].error_field == "pipeline_id"
        assert _outcomes(deleted) == [(0, "ok")]
        async with unit_of_work(factory, tenant_id=tenant) as session:
            names = sorted(await session.scalars(select(Deal.name)))
            renamed = await session.get(Lead, lead.id)
        assert names == ["New"]
        assert renamed is not None
        assert renamed.last_name == "Lovelace"
