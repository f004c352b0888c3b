"""MergeService servicer: merging contacts or companies, and the pointers left behind."""

from __future__ import annotations

from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import merges_pb2, merges_pb2_grpc
from crm_core.merges import service as merges
from crm_core.permissions.roles import Action, authorize
from crm_core.permissions.visibility import caller_session
from crm_kit.timestamps import to_timestamp
from crm_kit.validation import resource_id

MERGE_SERVICE = merges_pb2.DESCRIPTOR.services_by_name["MergeService"].full_name


def _area(object_type: str) -> str:
    """The scope family of the merged records (checked by the service as well)."""
    return merges.KINDS[object_type].spec.name if object_type in merges.KINDS else "contacts"


@dataclass
class MergeServicer(merges_pb2_grpc.MergeServiceServicer):
    factory: async_sessionmaker[AsyncSession]

    async def MergeRecords(  # noqa: N802 - gRPC method name
        self, request: merges_pb2.MergeRecordsRequest, context: ServicerContext
    ) -> merges_pb2.MergeRecordsResponse:
        authorize(Action.MERGE, _area(request.object_type))
        async with caller_session(self.factory) as session:
            result = await merges.merge(
                session,
                object_type=request.object_type,
                survivor_id=resource_id(request.survivor_id, resource="record"),
                merged_id=resource_id(request.merged_id, resource="record"),
            )
        return merges_pb2.MergeRecordsResponse(
            survivor_id=str(result.survivor.id), filled_fields=result.filled_fields
        )

    async def GetMergePointer(  # noqa: N802
        self, request: merges_pb2.GetMergePointerRequest, context: ServicerContext
    ) -> merges_pb2.MergePointer:
        authorize(Action.READ, _area(request.object_type))
        async with caller_session(self.factory) as session:
            found = await merges.pointer(
                session,
                object_type=request.object_type,
                record_id=resource_id(request.id, resource="record"),
            )
        return merges_pb2.MergePointer(
            object_type=found.object_type,
            merged_id=str(found.merged_id),
            survivor_id=str(found.survivor_id),
            merged_at=to_timestamp(found.merged_at),
        )
