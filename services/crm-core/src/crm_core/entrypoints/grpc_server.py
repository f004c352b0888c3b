"""ContactService servicer (PipelineService: entrypoints/pipelines_grpc.py)."""

from __future__ import annotations

from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import (
    contacts_pb2,
    contacts_pb2_grpc,
    records_pb2,
)
from crm_core.contacts import mappers
from crm_core.contacts import service as contacts
from crm_core.entrypoints.bulk import RecordWrites, run_bulk
from crm_core.models import Contact
from crm_core.permissions.roles import Action, authorize
from crm_core.permissions.visibility import audience_of, caller_session
from crm_core.records.mappers import search_from_proto
from crm_kit.context import current_context
from crm_kit.db.driver_reads import tenant_read

CONTACT_SERVICE = contacts_pb2.DESCRIPTOR.services_by_name["ContactService"].full_name
CONTACT_WRITES = RecordWrites("contacts", "contact_id", contacts, mappers)


async def _encoded(session: AsyncSession, found: list[Contact]) -> list[contacts_pb2.Contact]:
    companies = await contacts.company_ids(session, found)
    return [mappers.to_proto(c, companies[c.id]) for c in found]


@dataclass
class ContactServicer(contacts_pb2_grpc.ContactServiceServicer):
    factory: async_sessionmaker[AsyncSession]

    async def CreateContact(  # noqa: N802 - gRPC method name
        self, request: contacts_pb2.CreateContactRequest, context: ServicerContext
    ) -> contacts_pb2.Contact:
        authorize(Action.WRITE, "contacts")
        async with caller_session(self.factory) as session:
            contact = await contacts.create(session, data=mappers.create_from_proto(request))
            [encoded] = await _encoded(session, [contact])
        return encoded

    async def GetContact(  # noqa: N802
        self, request: contacts_pb2.GetContactRequest, context: ServicerContext
    ) -> contacts_pb2.Contact:
        authorize(Action.READ, "contacts")
        contact_id = mappers.parse_id(request.id)
        ctx = current_context()
        tenant_id = ctx.require_tenant()
        async with tenant_read(self.factory, tenant_id=tenant_id) as connection:
            contact, company_ids = await contacts.read(
                connection, tenant_id=tenant_id, contact_id=contact_id, audience=audience_of(ctx)
            )
        return mappers.to_proto(contact, company_ids)

    async def ListContacts(  # noqa: N802
        self, request: contacts_pb2.ListContactsRequest, context: ServicerContext
    ) -> contacts_pb2.ListContactsResponse:
        authorize(Action.READ, "contacts")
        async with caller_session(self.factory) as session:
            page = await contacts.list_page(session, limit=request.limit, cursor=request.cursor)
            encoded = await _encoded(session, page.contacts)
        return contacts_pb2.ListContactsResponse(contacts=encoded, next_cursor=page.next_cursor)

    async def SearchContacts(  # noqa: N802
        self, request: records_pb2.SearchRequest, context: ServicerContext
    ) -> contacts_pb2.ListContactsResponse:
        authorize(Action.READ, "contacts")
        async with caller_session(self.factory) as session:
            page = await contacts.search_page(session, params=search_from_proto(request))
            encoded = await _encoded(session, page.rows)
        return contacts_pb2.ListContactsResponse(contacts=encoded, next_cursor=page.next_cursor)

    async def FindDuplicateContacts(  # noqa: N802
        self, request: contacts_pb2.CreateContactRequest, context: ServicerContext
    ) -> records_pb2.DuplicateCandidates:
        authorize(Action.READ, "contacts")
        async with caller_session(self.factory) as session:
            found = await contacts.find_duplicates(
                session, email=request.email, phone=request.phone
            )
        return records_pb2.DuplicateCandidates(ids=[str(i) for i in found])

    async def UpdateContact(  # noqa: N802
        self, request: contacts_pb2.UpdateContactRequest, context: ServicerContext
    ) -> contacts_pb2.Contact:
        authorize(Action.WRITE, "contacts")
        async with caller_session(self.factory) as session:
            contact = await contacts.update(
                session,
                contact_id=mappers.parse_id(request.id),
                data=mappers.update_from_proto(request),
            )
            [encoded] = await _encoded(session, [contact])
        return encoded

    async def DeleteContact(  # noqa: N802
        self, request: contacts_pb2.DeleteContactRequest, context: ServicerContext
    ) -> contacts_pb2.DeleteContactResponse:
        authorize(Action.DELETE, "contacts")
        async with caller_session(self.factory) as session:
            await contacts.delete(session, contact_id=mappers.parse_id(request.id))
        return contacts_pb2.DeleteContactResponse()

    async def BulkContacts(  # noqa: N802
        self, request: contacts_pb2.BulkContactsRequest, context: ServicerContext
    ) -> records_pb2.BulkResponse:
        return await run_bulk(self.factory, CONTACT_WRITES, request)
