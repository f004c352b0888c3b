"""PipelineService servicer: decode, call the service, encode."""

from __future__ import annotations

from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import pipelines_pb2, pipelines_pb2_grpc
from crm_core.permissions.roles import Action, authorize
from crm_core.permissions.visibility import caller_session
from crm_core.pipelines import board, mappers, stage_removal
from crm_core.pipelines import service as pipelines

PIPELINE_SERVICE = pipelines_pb2.DESCRIPTOR.services_by_name["PipelineService"].full_name


@dataclass
class PipelineServicer(pipelines_pb2_grpc.PipelineServiceServicer):
    factory: async_sessionmaker[AsyncSession]

    async def ListPipelines(  # noqa: N802 - gRPC method name
        self, request: pipelines_pb2.ListPipelinesRequest, context: ServicerContext
    ) -> pipelines_pb2.ListPipelinesResponse:
        authorize(Action.READ, "pipelines")
        async with caller_session(self.factory) as session:
            found = await pipelines.list_pipelines(session)
        return pipelines_pb2.ListPipelinesResponse(pipelines=[mappers.to_proto(p) for p in found])

    async def CreatePipeline(  # noqa: N802
        self, request: pipelines_pb2.CreatePipelineRequest, context: ServicerContext
    ) -> pipelines_pb2.Pipeline:
        authorize(Action.CONFIGURE, "pipelines")
        async with caller_session(self.factory) as session:
            pipeline = await pipelines.create(session, data=mappers.create_from_proto(request))
        return mappers.to_proto(pipeline)

    async def GetPipeline(  # noqa: N802
        self, request: pipelines_pb2.GetPipelineRequest, context: ServicerContext
    ) -> pipelines_pb2.Pipeline:
        authorize(Action.READ, "pipelines")
        async with caller_session(self.factory) as session:
            pipeline = await pipelines.get(session, pipeline_id=mappers.parse_id(request.id))
        return mappers.to_proto(pipeline)

    async def UpdatePipeline(  # noqa: N802
        self, request: pipelines_pb2.UpdatePipelineRequest, context: ServicerContext
    ) -> pipelines_pb2.Pipeline:
        authorize(Action.CONFIGURE, "pipelines")
        async with caller_session(self.factory) as session:
            pipeline = await pipelines.update(
                session,
                pipeline_id=mappers.parse_id(request.id),
                data=mappers.update_from_proto(request),
            )
        return mappers.to_proto(pipeline)

    async def DeletePipeline(  # noqa: N802
        self, request: pipelines_pb2.DeletePipelineRequest, context: ServicerContext
    ) -> pipelines_pb2.DeletePipelineResponse:
        authorize(Action.CONFIGURE, "pipelines")
        async with caller_session(self.factory) as session:
            await pipelines.delete(session, pipeline_id=mappers.parse_id(request.id))
        return pipelines_pb2.DeletePipelineResponse()

    async def AddStage(  # noqa: N802
        self, request: pipelines_pb2.AddStageRequest, context: ServicerContext
    ) -> pipelines_pb2.Pipeline:
        authorize(Action.CONFIGURE, "pipelines")
        async with caller_session(self.factory) as session:
            pipeline = await pipelines.add_stage(
                session,
                pipeline_id=mappers.parse_id(request.pipeline_id),
                stage=mappers.stage_input(request.stage),
                position=request.position if request.HasField("position") else None,
            )
        return mappers.to_proto(pipeline)

    async def UpdateStage(  # noqa: N802
        self, request: pipelines_pb2.UpdateStageRequest, context: ServicerContext
    ) -> pipelines_pb2.Pipeline:
        authorize(Action.CONFIGURE, "pipelines")
        async with caller_session(self.factory) as session:
            pipeline = await pipelines.update_stage(
                session,
                pipeline_id=mappers.parse_id(request.pipeline_id),
                stage_id=mappers.parse_stage_id(request.stage_id),
                data=mappers.stage_update_from_proto(request),
            )
        return mappers.to_proto(pipeline)

    async def RemoveStage(  # noqa: N802
        self, request: pipelines_pb2.RemoveStageRequest, context: ServicerContext
    ) -> pipelines_pb2.Pipeline:
        # Moving the stage's deals is part of removing it: pipelines:write covers both.
        authorize(Action.CONFIGURE, "pipelines")
        async with caller_session(self.factory) as session:
            pipeline = await stage_removal.remove_stage(
                session,
                pipeline_id=mappers.parse_id(request.pipeline_id),
                stage_id=mappers.parse_stage_id(request.stage_id),
                move_deals_to=mappers.move_target(request),
            )
        return mappers.to_proto(pipeline)

    async def GetPipelineBoard(  # noqa: N802
        self, request: pipelines_pb2.GetPipelineRequest, context: ServicerContext
    ) -> pipelines_pb2.PipelineBoard:
        authorize(Action.READ, "pipelines")
        async with caller_session(self.factory) as session:
            found = await board.board(session, pipeline_id=mappers.parse_id(request.id))
        return mappers.board_to_proto(found)
