"""external_id through the servicers of all four record types: set, changed and cleared,
unique per tenant and type (a collision is Conflict external_id_taken), filterable,
and carried by the events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf import struct_pb2
from google.protobuf.message import Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import (
    companies_pb2,
    contacts_pb2,
    deals_pb2,
    leads_pb2,
    records_pb2,
)
from crm.events.v1 import crm_core_pb2 as events
from crm.events.v1 import envelope_pb2
from crm_core.entrypoints.deals_grpc import DealServicer
from crm_core.entrypoints.grpc_server import ContactServicer
from crm_core.entrypoints.leads_grpc import LeadServicer
from crm_core.entrypoints.records_grpc import CompanyServicer
from crm_core.models import OutboxRecord
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Conflict, InvalidArgument

from ..permissions.factories import calling_as
from ..pipelines.factories import create_default_pipeline

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]
CTX: Any = None  # the servicers never read the gRPC context


@dataclass(frozen=True)
class Kind:
    """One record type as these tests drive it through its servicer."""

    plural: str
    singular: str
    servicer: type[Any]
    create: Any  # the create request type
    update: Any
    get: Any
    base: dict[str, Any]  # what a valid create needs besides external_id


KINDS = {
    "contacts": Kind(
        "Contacts",
        "Contact",
        ContactServicer,
        contacts_pb2.CreateContactRequest,
        contacts_pb2.UpdateContactRequest,
        contacts_pb2.GetContactRequest,
        {"first_name": "Ada"},
    ),
    "companies": Kind(
        "Companies",
        "Company",
        CompanyServicer,
        companies_pb2.CreateCompanyRequest,
        companies_pb2.UpdateCompanyRequest,
        companies_pb2.GetCompanyRequest,
        {"name": "Acme"},
    ),
    "leads": Kind(
        "Leads",
        "Lead",
        LeadServicer,
        leads_pb2.CreateLeadRequest,
        leads_pb2.UpdateLeadRequest,
        leads_pb2.GetLeadRequest,
        {"first_name": "Lin"},
    ),
    "deals": Kind(
        "Deals",
        "Deal",
        DealServicer,
        deals_pb2.CreateDealRequest,
        deals_pb2.UpdateDealRequest,
        deals_pb2.GetDealRequest,
        {"name": "Renewal", "currency": "EUR"},
    ),
}


class Records:
    """Calls one type's servicer as an admin of one tenant."""

    def __init__(self, factory: Factory, tenant: uuid.UUID, kind: Kind) -> None:
        self.servicer = kind.servicer(factory)
        self.tenant = tenant
        self.kind = kind

    @contextmanager
    def caller(self) -> Iterator[None]:
        with calling_as(self.tenant, uuid.uuid4(), "admin"):
            yield

    async def _call(self, verb: str, request: Message, *, plural: bool = False) -> Any:
        name = self.kind.plural if plural else self.kind.singular
        with self.caller():
            return await getattr(self.servicer, f"{verb}{name}")(request, CTX)

    async def create(self, external_id: str = "") -> Any:
        return await self._call(
            "Create", self.kind.create(**self.kind.base, external_id=external_id)
        )

    async def update(self, record_id: str, **fields: Any) -> Any:
        return await self._call("Update", self.kind.update(id=record_id, **fields))

    async def get(self, record_id: str) -> Any:
        return await self._call("Get", self.kind.get(id=record_id))

    async def ids_where(self, operator: str, value: str | None = None) -> list[str]:
        condition = records_pb2.Filter(field="external_id", operator=operator)
        if value is not None:
            condition.value.CopyFrom(struct_pb2.Value(string_value=value))
        page = await self.search(
            records_pb2.SearchRequest(filter_groups=[records_pb2.FilterGroup(filters=[condition])])
        )
        return [r.id for r in getattr(page, self.kind.plural.lower())]

    async def search(self, request: records_pb2.SearchRequest) -> Any:
        return await self._call("Search", request, plural=True)


@pytest.fixture(params=list(KINDS))
async def records(request: pytest.FixtureRequest, factory: Factory, tenant: uuid.UUID) -> Records:
    if request.param == "deals":
        await create_default_pipeline(factory, tenant=tenant)
    return Records(factory, tenant, KINDS[request.param])


async def _snapshots(factory: Factory, tenant: uuid.UUID, event_type: str) -> list[Any]:
    """The record snapshots of the tenant's events of this type, oldest first."""
    payloads = {
        "crm_core.contact.created": events.ContactCreated,
        "crm_core.contact.updated": events.ContactUpdated,
    }
    async with unit_of_work(factory, tenant_id=None) as session:
        raws = await session.scalars(
            select(OutboxRecord.envelope)
            .where(OutboxRecord.tenant_id == tenant, OutboxRecord.event_type == event_type)
            .order_by(OutboxRecord.created_at)
        )
        found = []
        for raw in raws:
            payload = payloads[event_type]()
            envelope_pb2.Envelope.FromString(raw).payload.Unpack(payload)
            found.append(payload)
    return found


class TestSetAndRead:
    async def test_create_stores_it_trimmed_and_reads_show_it(self, records: Records) -> None:
        created = await records.create("  SF-0031  ")
        assert created.external_id == "SF-0031"
        assert (await records.get(created.id)).external_id == "SF-0031"

    async def test_a_record_without_one_shows_empty(self, records: Records) -> None:
        created = await records.create()
        assert created.external_id == ""
        assert await records.ids_where("is_empty") == [created.id]

    async def test_update_sets_leaves_and_clears_it(self, records: Records) -> None:
        created = await records.create()
        assert (await records.update(created.id, external_id="A-1")).external_id == "A-1"
        # Unset in the request: unchanged.
        assert (await records.update(created.id)).external_id == "A-1"
        cleared = await records.update(created.id, external_id="")
        assert cleared.external_id == ""
        assert await records.ids_where("is_empty") == [created.id]
        # Cleared is free again for another record.
        assert (await records.create("A-1")).external_id == "A-1"

    async def test_longer_than_200_characters_is_invalid(self, records: Records) -> None:
        with pytest.raises(InvalidArgument) as refused:
            await records.create("x" * 201)
        assert refused.value.details["field"] == "external_id"
        assert (await records.create("x" * 200)).external_id == "x" * 200


class TestUniqueness:
    async def test_another_records_value_is_a_conflict_on_create_and_update(
        self, records: Records
    ) -> None:
        holder = await records.create("EXT-1")
        other = await records.create("EXT-2")
        with pytest.raises(Conflict) as on_create:
            await records.create("EXT-1")
        with pytest.raises(Conflict) as on_update:
            await records.update(other.id, external_id=" EXT-1 ")
        for refused in (on_create.value, on_update.value):
            assert refused.code == "external_id_taken"
            assert refused.details["field"] == "external_id"
        assert await records.ids_where("eq", "EXT-1") == [holder.id]
        assert (await records.get(other.id)).external_id == "EXT-2"

    async def test_keeping_its_own_value_is_no_conflict(self, records: Records) -> None:
        created = await records.create("EXT-1")
        assert (await records.update(created.id, external_id="EXT-1")).external_id == "EXT-1"

    async def test_the_same_value_is_free_in_another_tenant(
        self, records: Records, factory: Factory, other_tenant: uuid.UUID
    ) -> None:
        if records.kind.singular == "Deal":
            await create_default_pipeline(factory, tenant=other_tenant)
        theirs = Records(factory, other_tenant, records.kind)
        mine = await records.create("SHARED-1")
        other = await theirs.create("SHARED-1")
        assert await records.ids_where("eq", "SHARED-1") == [mine.id]
        assert await theirs.ids_where("eq", "SHARED-1") == [other.id]

    async def test_the_same_value_is_free_on_another_record_type(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        contact = await Records(factory, tenant, KINDS["contacts"]).create("ACME-1")
        company = await Records(factory, tenant, KINDS["companies"]).create("ACME-1")
        assert contact.external_id == company.external_id == "ACME-1"

    async def test_a_bulk_item_taking_a_held_value_fails_alone(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        contacts = Records(factory, tenant, KINDS["contacts"])
        await contacts.create("HELD")
        request = contacts_pb2.BulkContactsRequest(
            creates=[
                contacts_pb2.CreateContactRequest(first_name="A", external_id="NEW-1"),
                contacts_pb2.CreateContactRequest(first_name="B", external_id="HELD"),
                contacts_pb2.CreateContactRequest(first_name="C", external_id="NEW-1"),
                contacts_pb2.CreateContactRequest(first_name="D", external_id="NEW-2"),
            ]
        )
        with calling_as(tenant, uuid.uuid4(), "admin"):
            response = await ContactServicer(factory).BulkContacts(request, CTX)
        assert [r.error_code or "ok" for r in response.results] == [
            "ok",
            "external_id_taken",
            "external_id_taken",
            "ok",
        ]
        assert len(await contacts.ids_where("is_not_empty")) == 3


class TestFilters:
    async def test_eq_in_and_starts_with_find_it(self, records: Records) -> None:
        wanted = await records.create("SF-0031")
        await records.create("SF-0032")
        await records.create()
        assert await records.ids_where("eq", "SF-0031") == [wanted.id]
        assert await records.ids_where("eq", "sf-0031") == []  # eq is exact, as on email
        assert len(await records.ids_where("starts_with", "sf-")) == 2
        assert len(await records.ids_where("is_not_empty")) == 2

    async def test_sorted_pages_put_records_without_one_last(self, records: Records) -> None:
        made = [await records.create(e) for e in ("B", "", "A")]
        search = records_pb2.SearchRequest(sorts=[records_pb2.Sort(field="external_id")], limit=1)
        walked: list[str] = []
        while True:
            page = await records.search(search)
            walked += [r.id for r in getattr(page, records.kind.plural.lower())]
            if not page.next_cursor:
                break
            search.cursor = page.next_cursor
        assert walked == [made[2].id, made[0].id, made[1].id]


class TestEvents:
    async def test_created_and_updated_events_carry_it(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        contacts = Records(factory, tenant, KINDS["contacts"])
        created = await contacts.create("EVT-1")
        await contacts.update(created.id, external_id="EVT-2")
        [on_create] = await _snapshots(factory, tenant, "crm_core.contact.created")
        [on_update] = await _snapshots(factory, tenant, "crm_core.contact.updated")
        assert on_create.contact.external_id == "EVT-1"
        assert on_update.contact.external_id == "EVT-2"
        assert list(on_update.changed_fields) == ["external_id"]
