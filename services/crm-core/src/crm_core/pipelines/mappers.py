"""Pipeline, stage and board <-> protobuf, nothing else."""

from __future__ import annotations

import uuid

from crm.crm_core.v1 import pipelines_pb2
from crm_core.models import Pipeline, Stage
from crm_core.pipelines.board import Board
from crm_core.pipelines.schemas import PipelineCreate, PipelineUpdate, StageInput, StageUpdate
from crm_core.records.mappers import id_list
from crm_kit.validation import optional_uuid, resource_id


def parse_id(value: str) -> uuid.UUID:
    return resource_id(value, resource="pipeline")


def parse_stage_id(value: str) -> uuid.UUID:
    return resource_id(value, resource="stage")


def stage_to_proto(stage: Stage) -> pipelines_pb2.Stage:
    return pipelines_pb2.Stage(
        id=str(stage.id),
        name=stage.name,
        position=stage.position,
        probability=stage.probability,
        kind=stage.kind,
    )


def to_proto(pipeline: Pipeline) -> pipelines_pb2.Pipeline:
    return pipelines_pb2.Pipeline(
        id=str(pipeline.id),
        name=pipeline.name,
        is_default=pipeline.is_default,
        stages=[stage_to_proto(s) for s in pipeline.stages],
    )


def stage_input(message: pipelines_pb2.StageInput) -> StageInput:
    return StageInput(name=message.name, probability=message.probability, kind=message.kind)


def create_from_proto(request: pipelines_pb2.CreatePipelineRequest) -> PipelineCreate:
    return PipelineCreate(name=request.name, stages=[stage_input(s) for s in request.stages])


def update_from_proto(request: pipelines_pb2.UpdatePipelineRequest) -> PipelineUpdate:
    return PipelineUpdate(
        name=request.name if request.HasField("name") else None,
        stage_order=(
            id_list(list(request.stage_order.ids), field="stage_order")
            if request.HasField("stage_order")
            else None
        ),
    )


def stage_update_from_proto(request: pipelines_pb2.UpdateStageRequest) -> StageUpdate:
    return StageUpdate(
        name=request.name if request.HasField("name") else None,
        probability=request.probability if request.HasField("probability") else None,
        kind=request.kind if request.HasField("kind") else None,
    )


def move_target(request: pipelines_pb2.RemoveStageRequest) -> uuid.UUID | None:
    return optional_uuid(request.move_deals_to_stage_id, field="move_deals_to_stage_id")


def board_to_proto(board: Board) -> pipelines_pb2.PipelineBoard:
    return pipelines_pb2.PipelineBoard(
        pipeline=to_proto(board.pipeline),
        columns=[
            pipelines_pb2.BoardColumn(
                stage=stage_to_proto(column.stage),
                deal_count=column.deal_count,
                totals=[
                    pipelines_pb2.CurrencyTotal(
                        currency=t.currency, amount_minor=t.amount_minor, count=t.count
                    )
                    for t in column.totals
                ],
            )
            for column in board.columns
        ],
    )
