"""Per-record routes of every object type: its timeline and its tags.

Declared once for contacts, companies, leads and deals, so each gets the same
`/v1/<type>/{record_id}/timeline` and `/v1/<type>/{record_id}/tags` routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Query, Request, Response, Security
from google.protobuf import json_format

from crm.crm_core.v1 import engagements_pb2 as pb
from crm_gateway.routes.record_items import RECORD_TYPES
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.routes.tags import to_tag
from crm_gateway.schemas.engagements import TagList, Timeline, TimelineEntry
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import to_datetime

router = PrefixedRouter()

TIMELINE_DESCRIPTION = (
    "Newest first: field changes (with old and new values and who made them), notes, "
    "tasks and activities attached to the record, and for deals their stage moves. "
    "Keyset-paginated by (occurred_at, id): entries added while you page never repeat or "
    "shift a later page. Needs the object type's read scope."
)
SINGULAR = {"contacts": "contact", "companies": "company", "leads": "lead", "deals": "deal"}
TagsReader = Annotated[RequestContext, Security(authenticated, scopes=["tags:read"])]
TagsWriter = Annotated[RequestContext, Security(authenticated, scopes=["tags:write"])]


def _whole_numbers(value: Any) -> Any:
    """Struct numbers are doubles; whole ones go back to int (versions, seconds)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _entry(message: pb.TimelineEntry) -> TimelineEntry:
    return TimelineEntry(
        type=message.type,
        id=message.id,
        occurred_at=to_datetime(message.occurred_at),
        actor_id=message.actor_id or None,
        payload=_whole_numbers(json_format.MessageToDict(message.payload)),
    )


def _timeline_route(record_type: str) -> Callable[..., Awaitable[Timeline]]:
    async def get_timeline(
        record_id: str,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(max_length=2000)] = None,
    ) -> Timeline:
        query = pb.TimelineRequest(
            record=pb.RecordRef(record_type=record_type, record_id=record_id),
            limit=limit,
            cursor=cursor or "",
        )
        page = await request.app.state.upstreams.timeline.GetTimeline(query)
        return Timeline(
            data=[_entry(e) for e in page.entries], next_cursor=page.next_cursor or None
        )

    return get_timeline


def _ref(record_type: str, record_id: str) -> pb.RecordRef:
    return pb.RecordRef(record_type=record_type, record_id=record_id)


def _tag_routes(
    record_type: str,
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    async def list_record_tags(record_id: str, request: Request, caller: TagsReader) -> TagList:
        found = await request.app.state.upstreams.tags.ListRecordTags(_ref(record_type, record_id))
        return TagList(data=[to_tag(t) for t in found.tags])

    async def tag_record(
        record_id: str, tag_id: str, request: Request, caller: TagsWriter
    ) -> Response:
        await request.app.state.upstreams.tags.TagRecord(
            pb.TagRecordRequest(tag_id=tag_id, record=_ref(record_type, record_id))
        )
        return Response(status_code=204)

    async def untag_record(
        record_id: str, tag_id: str, request: Request, caller: TagsWriter
    ) -> Response:
        await request.app.state.upstreams.tags.UntagRecord(
            pb.TagRecordRequest(tag_id=tag_id, record=_ref(record_type, record_id))
        )
        return Response(status_code=204)

    return list_record_tags, tag_record, untag_record


def _add_routes(record_type: str) -> None:
    base = f"/v1/{record_type}/{{record_id}}"
    singular = SINGULAR[record_type]
    router.add_api_route(
        f"{base}/timeline",
        _timeline_route(record_type),
        methods=["GET"],
        name=f"get_{record_type}_timeline",
        # The record type's read scope guards its timeline.
        dependencies=[Security(authenticated, scopes=[f"{record_type}:read"])],
        summary=f"A {singular}'s timeline",
        description=TIMELINE_DESCRIPTION,
        response_model=Timeline,
        responses=problems(401, 403, 404, 422),
        tags=[record_type],
    )
    listing, tagging, untagging = _tag_routes(record_type)
    router.add_api_route(
        f"{base}/tags",
        listing,
        methods=["GET"],
        name=f"list_{record_type}_tags",
        summary=f"The tags on a {singular}",
        response_model=TagList,
        responses=problems(401, 403, 404, 422),
        tags=[record_type, "tags"],
    )
    for method, handler, verb in (("PUT", tagging, "Tag"), ("DELETE", untagging, "Untag")):
        router.add_api_route(
            f"{base}/tags/{{tag_id}}",
            handler,
            methods=[method],
            status_code=204,
            name=f"{verb.lower()}_{record_type}",
            summary=f"{verb} a {singular}",
            description="Idempotent. An unknown tag or record (or another tenant's) is 404.",
            responses=problems(401, 403, 404, 422),
            tags=[record_type, "tags"],
        )


for _record_type in RECORD_TYPES:
    _add_routes(_record_type)
