"""Tags: tenant-wide labels, and putting them on records."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Response, Security

from crm.crm_core.v1 import engagements_pb2 as pb
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.engagements import Tag, TagCreate, TagList, TagUpdate
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import to_datetime

router = PrefixedRouter(prefix="/v1/tags", tags=["tags"])

Reader = Annotated[RequestContext, Security(authenticated, scopes=["tags:read"])]
Writer = Annotated[RequestContext, Security(authenticated, scopes=["tags:write"])]


def to_tag(message: pb.Tag) -> Tag:
    return Tag(
        id=message.id,
        name=message.name,
        color=message.color,
        created_at=to_datetime(message.created_at),
    )


@router.post(
    "",
    status_code=201,
    summary="Create a tag",
    description="Names are unique per tenant ignoring case (409 `duplicate_tag`).",
    response_model=Tag,
    responses=problems(401, 403, 409, 422),
)
async def create_tag(body: TagCreate, request: Request, response: Response, caller: Writer) -> Tag:
    made = await request.app.state.upstreams.tags.CreateTag(
        pb.CreateTagRequest(name=body.name, color=body.color)
    )
    response.headers["Location"] = f"/v1/tags/{made.id}"
    return to_tag(made)


@router.get(
    "",
    summary="List the tenant's tags by name",
    response_model=TagList,
    responses=problems(401, 403),
)
async def list_tags(request: Request, caller: Reader) -> TagList:
    found = await request.app.state.upstreams.tags.ListTags(pb.Empty())
    return TagList(data=[to_tag(t) for t in found.tags])


@router.patch(
    "/{tag_id}",
    summary="Rename or recolor a tag",
    response_model=Tag,
    responses=problems(401, 403, 404, 409, 422),
)
async def update_tag(tag_id: str, body: TagUpdate, request: Request, caller: Writer) -> Tag:
    update = pb.UpdateTagRequest(id=tag_id)
    if body.name is not None:
        update.name = body.name
    if body.color is not None:
        update.color = body.color
    return to_tag(await request.app.state.upstreams.tags.UpdateTag(update))


@router.delete(
    "/{tag_id}",
    status_code=204,
    summary="Delete a tag",
    description="It comes off every record; the records stay.",
    responses=problems(401, 403, 404, 422),
)
async def delete_tag(tag_id: str, request: Request, caller: Writer) -> Response:
    await request.app.state.upstreams.tags.DeleteTag(pb.ItemId(id=tag_id))
    return Response(status_code=204)
