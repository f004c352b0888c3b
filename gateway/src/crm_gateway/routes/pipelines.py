"""Sales pipelines: CRUD, their ordered stages, and the board (deals per stage)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, Security

from crm.crm_core.v1 import pipelines_pb2
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas import Pipeline, PipelineList, Stage
from crm_gateway.schemas.pipelines import (
    BoardColumn,
    CurrencyTotal,
    PipelineBoard,
    PipelineCreate,
    PipelineUpdate,
    StageAdd,
    StageCreate,
    StageUpdate,
)
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext

router = PrefixedRouter(prefix="/v1/pipelines", tags=["pipelines"])

# What an API key needs here (users are not limited by scopes).
PipelinesReader = Annotated[RequestContext, Security(authenticated, scopes=["pipelines:read"])]
PipelinesWriter = Annotated[RequestContext, Security(authenticated, scopes=["pipelines:write"])]


def to_stage(message: pipelines_pb2.Stage) -> Stage:
    return Stage(
        id=message.id,
        name=message.name,
        position=message.position,
        probability=message.probability,
        kind=message.kind or "open",
    )


def to_pipeline(message: pipelines_pb2.Pipeline) -> Pipeline:
    return Pipeline(
        id=message.id,
        name=message.name,
        is_default=message.is_default,
        stages=[to_stage(s) for s in message.stages],
    )


def _stage_input(body: StageCreate) -> pipelines_pb2.StageInput:
    return pipelines_pb2.StageInput(name=body.name, probability=body.probability, kind=body.kind)


@router.get(
    "",
    summary="List the organization's pipelines with their stages (default first)",
    response_model=PipelineList,
    responses=problems(401, 403),
)
async def list_pipelines(request: Request, caller: PipelinesReader) -> PipelineList:
    found = await request.app.state.upstreams.pipelines.ListPipelines(
        pipelines_pb2.ListPipelinesRequest()
    )
    return PipelineList(data=[to_pipeline(p) for p in found.pipelines])


@router.post(
    "",
    status_code=201,
    summary="Create a pipeline with its stages, in order",
    response_model=Pipeline,
    responses=problems(401, 403, 422),
)
async def create_pipeline(
    body: PipelineCreate, request: Request, response: Response, caller: PipelinesWriter
) -> Pipeline:
    message = await request.app.state.upstreams.pipelines.CreatePipeline(
        pipelines_pb2.CreatePipelineRequest(
            name=body.name, stages=[_stage_input(s) for s in body.stages]
        )
    )
    pipeline = to_pipeline(message)
    response.headers["Location"] = f"/v1/pipelines/{pipeline.id}"
    return pipeline


@router.get(
    "/{pipeline_id}",
    summary="Get a pipeline with its stages",
    response_model=Pipeline,
    responses=problems(401, 403, 404),
)
async def get_pipeline(pipeline_id: str, request: Request, caller: PipelinesReader) -> Pipeline:
    message = await request.app.state.upstreams.pipelines.GetPipeline(
        pipelines_pb2.GetPipelineRequest(id=pipeline_id)
    )
    return to_pipeline(message)


@router.patch(
    "/{pipeline_id}",
    summary="Rename a pipeline or reorder its stages",
    description="`stage_order` lists every stage id of the pipeline exactly once.",
    response_model=Pipeline,
    responses=problems(401, 403, 404, 422),
)
async def update_pipeline(
    pipeline_id: str, body: PipelineUpdate, request: Request, caller: PipelinesWriter
) -> Pipeline:
    update = pipelines_pb2.UpdatePipelineRequest(id=pipeline_id)
    if body.name is not None:
        update.name = body.name
    if body.stage_order is not None:
        update.stage_order.ids.extend(body.stage_order)
    return to_pipeline(await request.app.state.upstreams.pipelines.UpdatePipeline(update))


@router.delete(
    "/{pipeline_id}",
    status_code=204,
    summary="Delete a pipeline and its stages",
    description="Refused (409) while it holds deals (`pipeline_has_deals`) and for the "
    "default pipeline (`default_pipeline`).",
    responses=problems(401, 403, 404, 409),
)
async def delete_pipeline(pipeline_id: str, request: Request, caller: PipelinesWriter) -> Response:
    await request.app.state.upstreams.pipelines.DeletePipeline(
        pipelines_pb2.DeletePipelineRequest(id=pipeline_id)
    )
    return Response(status_code=204)


@router.post(
    "/{pipeline_id}/stages",
    status_code=201,
    summary="Add a stage at a position (default: last)",
    response_model=Pipeline,
    responses=problems(401, 403, 404, 422),
)
async def add_stage(
    pipeline_id: str, body: StageAdd, request: Request, caller: PipelinesWriter
) -> Pipeline:
    add = pipelines_pb2.AddStageRequest(pipeline_id=pipeline_id, stage=_stage_input(body))
    if body.position is not None:
        add.position = body.position
    return to_pipeline(await request.app.state.upstreams.pipelines.AddStage(add))


@router.patch(
    "/{pipeline_id}/stages/{stage_id}",
    summary="Rename a stage or change its probability or kind",
    response_model=Pipeline,
    responses=problems(401, 403, 404, 422),
)
async def update_stage(
    pipeline_id: str, stage_id: str, body: StageUpdate, request: Request, caller: PipelinesWriter
) -> Pipeline:
    update = pipelines_pb2.UpdateStageRequest(pipeline_id=pipeline_id, stage_id=stage_id)
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(update, name, value)
    return to_pipeline(await request.app.state.upstreams.pipelines.UpdateStage(update))


@router.delete(
    "/{pipeline_id}/stages/{stage_id}",
    summary="Remove a stage",
    description="A stage holding deals is removed only with `move_deals_to` (another stage "
    "of the pipeline): its deals move there, each move recorded in the deal's stage "
    "history. Without it: 409 `stage_has_deals`. The last stage stays (409 `last_stage`).",
    response_model=Pipeline,
    responses=problems(401, 403, 404, 409, 422),
)
async def remove_stage(
    pipeline_id: str,
    stage_id: str,
    request: Request,
    caller: PipelinesWriter,
    move_deals_to: Annotated[str | None, Query(max_length=100)] = None,
) -> Pipeline:
    remove = pipelines_pb2.RemoveStageRequest(
        pipeline_id=pipeline_id, stage_id=stage_id, move_deals_to_stage_id=move_deals_to or ""
    )
    return to_pipeline(await request.app.state.upstreams.pipelines.RemoveStage(remove))


@router.get(
    "/{pipeline_id}/board",
    summary="The pipeline view: deals per stage with counts and sums per currency",
    response_model=PipelineBoard,
    responses=problems(401, 403, 404),
)
async def pipeline_board(
    pipeline_id: str, request: Request, caller: PipelinesReader
) -> PipelineBoard:
    board = await request.app.state.upstreams.pipelines.GetPipelineBoard(
        pipelines_pb2.GetPipelineRequest(id=pipeline_id)
    )
    return PipelineBoard(
        pipeline=to_pipeline(board.pipeline),
        columns=[
            BoardColumn(
                stage=to_stage(c.stage),
                deal_count=c.deal_count,
                totals=[
                    CurrencyTotal(currency=t.currency, amount_minor=t.amount_minor, count=t.count)
                    for t in c.totals
                ],
            )
            for c in board.columns
        ],
    )
