"""Sales pipelines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Security

from crm.crm_core.v1 import pipelines_pb2
from crm_gateway.routes.responses import problems
from crm_gateway.schemas import Pipeline, PipelineList, Stage
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext

router = APIRouter(prefix="/v1/pipelines", tags=["pipelines"])

# What an API key needs here (users are not limited by scopes).
PipelinesReader = Annotated[RequestContext, Security(authenticated, scopes=["pipelines:read"])]


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
    return PipelineList(
        data=[
            Pipeline(
                id=p.id,
                name=p.name,
                is_default=p.is_default,
                stages=[
                    Stage(id=s.id, name=s.name, position=s.position, probability=s.probability)
                    for s in p.stages
                ],
            )
            for p in found.pipelines
        ]
    )
