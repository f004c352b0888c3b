"""LeadService servicer: decode, call the service, encode."""

from __future__ import annotations

from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import leads_pb2, leads_pb2_grpc, records_pb2
from crm_core.entrypoints.bulk import RecordWrites, run_bulk
from crm_core.leads import conversion, mappers
from crm_core.leads import service as leads
from crm_core.permissions.roles import Action, authorize
from crm_core.permissions.visibility import caller_session
from crm_core.records.mappers import search_from_proto

LEAD_SERVICE = leads_pb2.DESCRIPTOR.services_by_name["LeadService"].full_name
LEAD_WRITES = RecordWrites("leads", "lead_id", leads, mappers)


@dataclass
class LeadServicer(leads_pb2_grpc.LeadServiceServicer):
    factory: async_sessionmaker[AsyncSession]

    async def CreateLead(  # noqa: N802 - gRPC method name
        self, request: leads_pb2.CreateLeadRequest, context: ServicerContext
    ) -> leads_pb2.Lead:
        authorize(Action.WRITE, "leads")
        async with caller_session(self.factory) as session:
            lead = await leads.create(session, data=mappers.create_from_proto(request))
        return mappers.to_proto(lead)

    async def GetLead(  # noqa: N802
        self, request: leads_pb2.GetLeadRequest, context: ServicerContext
    ) -> leads_pb2.Lead:
        authorize(Action.READ, "leads")
        async with caller_session(self.factory) as session:
            lead = await leads.get(session, lead_id=mappers.parse_id(request.id))
        return mappers.to_proto(lead)

    async def SearchLeads(  # noqa: N802
        self, request: records_pb2.SearchRequest, context: ServicerContext
    ) -> leads_pb2.SearchLeadsResponse:
        authorize(Action.READ, "leads")
        async with caller_session(self.factory) as session:
            page = await leads.search_page(session, params=search_from_proto(request))
        return leads_pb2.SearchLeadsResponse(
            leads=[mappers.to_proto(lead) for lead in page.rows], next_cursor=page.next_cursor
        )

    async def UpdateLead(  # noqa: N802
        self, request: leads_pb2.UpdateLeadRequest, context: ServicerContext
    ) -> leads_pb2.Lead:
        authorize(Action.WRITE, "leads")
        async with caller_session(self.factory) as session:
            lead = await leads.update(
                session,
                lead_id=mappers.parse_id(request.id),
                data=mappers.update_from_proto(request),
            )
        return mappers.to_proto(lead)

    async def DeleteLead(  # noqa: N802
        self, request: leads_pb2.DeleteLeadRequest, context: ServicerContext
    ) -> leads_pb2.DeleteLeadResponse:
        authorize(Action.DELETE, "leads")
        async with caller_session(self.factory) as session:
            await leads.delete(session, lead_id=mappers.parse_id(request.id))
        return leads_pb2.DeleteLeadResponse()

    async def ConvertLead(  # noqa: N802
        self, request: leads_pb2.ConvertLeadRequest, context: ServicerContext
    ) -> leads_pb2.ConvertLeadResponse:
        # Conversion writes contacts, companies and deals too; the lead scope covers it.
        authorize(Action.WRITE, "leads")
        async with caller_session(self.factory) as session:
            result = await conversion.convert(
                session,
                lead_id=mappers.parse_id(request.id),
                options=mappers.conversion_from_proto(request),
            )
        return mappers.conversion_to_proto(result)

    async def BulkLeads(  # noqa: N802
        self, request: leads_pb2.BulkLeadsRequest, context: ServicerContext
    ) -> records_pb2.BulkResponse:
        return await run_bulk(self.factory, LEAD_WRITES, request)
