"""DealService servicer: decode, call the service, encode."""

from __future__ import annotations

from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import deals_pb2, deals_pb2_grpc, records_pb2
from crm_core.deals import mappers
from crm_core.deals import service as deals
from crm_core.entrypoints.bulk import RecordWrites, run_bulk
from crm_core.models import Deal
from crm_core.permissions.roles import Action, authorize
from crm_core.permissions.visibility import caller_session
from crm_core.records.mappers import search_from_proto
from crm_kit.validation import resource_id

DEAL_SERVICE = deals_pb2.DESCRIPTOR.services_by_name["DealService"].full_name
DEAL_WRITES = RecordWrites("deals", "deal_id", deals, mappers)


async def _encoded(session: AsyncSession, found: list[Deal]) -> list[deals_pb2.Deal]:
    contacts = await deals.contact_ids(session, found)
    return [mappers.to_proto(d, contacts[d.id]) for d in found]


@dataclass
class DealServicer(deals_pb2_grpc.DealServiceServicer):
    factory: async_sessionmaker[AsyncSession]

    async def CreateDeal(  # noqa: N802 - gRPC method name
        self, request: deals_pb2.CreateDealRequest, context: ServicerContext
    ) -> deals_pb2.Deal:
        authorize(Action.WRITE, "deals")
        async with caller_session(self.factory) as session:
            deal = await deals.create(session, data=mappers.create_from_proto(request))
            [encoded] = await _encoded(session, [deal])
        return encoded

    async def GetDeal(  # noqa: N802
        self, request: deals_pb2.GetDealRequest, context: ServicerContext
    ) -> deals_pb2.Deal:
        authorize(Action.READ, "deals")
        async with caller_session(self.factory) as session:
            deal = await deals.get(session, deal_id=mappers.parse_id(request.id))
            [encoded] = await _encoded(session, [deal])
        return encoded

    async def SearchDeals(  # noqa: N802
        self, request: records_pb2.SearchRequest, context: ServicerContext
    ) -> deals_pb2.SearchDealsResponse:
        authorize(Action.READ, "deals")
        async with caller_session(self.factory) as session:
            page = await deals.search_page(session, params=search_from_proto(request))
            encoded = await _encoded(session, page.rows)
        return deals_pb2.SearchDealsResponse(deals=encoded, next_cursor=page.next_cursor)

    async def UpdateDeal(  # noqa: N802
        self, request: deals_pb2.UpdateDealRequest, context: ServicerContext
    ) -> deals_pb2.Deal:
        authorize(Action.WRITE, "deals")
        async with caller_session(self.factory) as session:
            deal = await deals.update(
                session,
                deal_id=mappers.parse_id(request.id),
                data=mappers.update_from_proto(request),
            )
            [encoded] = await _encoded(session, [deal])
        return encoded

    async def MoveDeal(  # noqa: N802
        self, request: deals_pb2.MoveDealRequest, context: ServicerContext
    ) -> deals_pb2.Deal:
        authorize(Action.WRITE, "deals")
        async with caller_session(self.factory) as session:
            deal = await deals.move(
                session,
                deal_id=mappers.parse_id(request.id),
                stage_id=resource_id(request.stage_id, resource="stage"),
                expected_version=(
                    request.expected_version if request.HasField("expected_version") else None
                ),
            )
            [encoded] = await _encoded(session, [deal])
        return encoded

    async def DeleteDeal(  # noqa: N802
        self, request: deals_pb2.DeleteDealRequest, context: ServicerContext
    ) -> deals_pb2.DeleteDealResponse:
        authorize(Action.DELETE, "deals")
        async with caller_session(self.factory) as session:
            await deals.delete(session, deal_id=mappers.parse_id(request.id))
        return deals_pb2.DeleteDealResponse()

    async def ListStageHistory(  # noqa: N802
        self, request: deals_pb2.ListStageHistoryRequest, context: ServicerContext
    ) -> deals_pb2.ListStageHistoryResponse:
        authorize(Action.READ, "deals")
        async with caller_session(self.factory) as session:
            changes = await deals.history(session, deal_id=mappers.parse_id(request.deal_id))
        return deals_pb2.ListStageHistoryResponse(
            changes=[mappers.history_to_proto(c) for c in changes]
        )

    async def BulkDeals(  # noqa: N802
        self, request: deals_pb2.BulkDealsRequest, context: ServicerContext
    ) -> records_pb2.BulkResponse:
        return await run_bulk(self.factory, DEAL_WRITES, request)
