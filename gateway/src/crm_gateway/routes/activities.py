"""Activities: calls, meetings and emails logged against records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Query, Request, Response, Security

from crm.crm_core.v1 import engagements_pb2 as pb
from crm_gateway.routes.record_items import (
    RECORD_FILTER,
    iso,
    meta_fields,
    record_param,
    refs_to_proto,
)
from crm_gateway.routes.records import etag, parse_if_match
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.engagements import (
    Activity,
    ActivityCreate,
    ActivityList,
    ActivityUpdate,
)
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import to_datetime

router = PrefixedRouter(prefix="/v1/activities", tags=["activities"])

Reader = Annotated[RequestContext, Security(authenticated, scopes=["activities:read"])]
Writer = Annotated[RequestContext, Security(authenticated, scopes=["activities:write"])]


def to_activity(message: pb.Activity, response: Response | None = None) -> Activity:
    activity = Activity(
        **meta_fields(message.meta),
        kind=message.kind,
        subject=message.subject,
        body=message.body,
        occurred_at=to_datetime(message.occurred_at),
        duration_seconds=(
            message.duration_seconds if message.HasField("duration_seconds") else None
        ),
        participant_contact_ids=list(message.participant_contact_ids),
        participant_emails=list(message.participant_emails),
    )
    if response is not None:
        response.headers["ETag"] = etag(activity.version)
    return activity


@router.post(
    "",
    status_code=201,
    summary="Log an activity (call, meeting, email) on records",
    description="`participant_contact_ids` and `records` must be of your tenant (else 422).",
    response_model=Activity,
    responses=problems(401, 403, 422),
)
async def create_activity(
    body: ActivityCreate, request: Request, response: Response, caller: Writer
) -> Activity:
    create = pb.CreateActivityRequest(
        kind=body.kind,
        subject=body.subject,
        body=body.body,
        occurred_at=iso(body.occurred_at),
        participant_contact_ids=body.participant_contact_ids,
        participant_emails=body.participant_emails,
        records=refs_to_proto(body.records),
        owner_id=body.owner_id or "",
    )
    if body.duration_seconds is not None:
        create.duration_seconds = body.duration_seconds
    made = to_activity(
        await request.app.state.upstreams.activities.CreateActivity(create), response
    )
    response.headers["Location"] = f"/v1/activities/{made.id}"
    return made


@router.get(
    "",
    summary="List activities, most recent first",
    response_model=ActivityList,
    responses=problems(401, 403, 404, 422),
)
async def list_activities(
    request: Request,
    caller: Reader,
    record: Annotated[str | None, Query(max_length=200, description=RECORD_FILTER)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> ActivityList:
    query = pb.ListItemsRequest(limit=limit, cursor=cursor or "")
    ref = record_param(record)
    if ref is not None:
        query.record.CopyFrom(ref)
    page = await request.app.state.upstreams.activities.ListActivities(query)
    return ActivityList(
        data=[to_activity(a) for a in page.activities], next_cursor=page.next_cursor or None
    )


@router.get(
    "/{activity_id}",
    summary="Get an activity",
    response_model=Activity,
    responses=problems(401, 403, 404, 422),
)
async def get_activity(
    activity_id: str, request: Request, response: Response, caller: Reader
) -> Activity:
    found = await request.app.state.upstreams.activities.GetActivity(pb.ItemId(id=activity_id))
    return to_activity(found, response)


def _update_request(activity_id: str, body: ActivityUpdate) -> pb.UpdateActivityRequest:
    fields: dict[str, Any] = body.model_dump(
        exclude_unset=True,
        exclude={"records", "participant_contact_ids", "participant_emails", "occurred_at"},
    )
    update = pb.UpdateActivityRequest(
        id=activity_id, **{k: v for k, v in fields.items() if v is not None}
    )
    if "owner_id" in fields and fields["owner_id"] is None:
        update.owner_id = ""
    if body.occurred_at is not None:
        update.occurred_at = body.occurred_at.isoformat()
    if body.participant_contact_ids is not None:
        update.participant_contact_ids.values.extend(body.participant_contact_ids)
    if body.participant_emails is not None:
        update.participant_emails.values.extend(body.participant_emails)
    if body.records is not None:
        update.records.records.extend(refs_to_proto(body.records))
    return update


@router.patch(
    "/{activity_id}",
    summary="Update some fields of an activity",
    description="Send `If-Match` with the activity's ETag to refuse a stale write (412); "
    "`records`, when present, replaces what it is attached to.",
    response_model=Activity,
    responses=problems(401, 403, 404, 412, 422),
)
async def update_activity(
    activity_id: str,
    body: ActivityUpdate,
    request: Request,
    response: Response,
    caller: Writer,
    if_match: Annotated[str | None, Header()] = None,
) -> Activity:
    update = _update_request(activity_id, body)
    expected = parse_if_match(if_match)
    if expected is not None:
        update.expected_version = expected
    changed = await request.app.state.upstreams.activities.UpdateActivity(update)
    return to_activity(changed, response)


@router.delete(
    "/{activity_id}",
    status_code=204,
    summary="Delete an activity",
    description="The records it was attached to stay.",
    responses=problems(401, 403, 404, 422),
)
async def delete_activity(activity_id: str, request: Request, caller: Writer) -> Response:
    await request.app.state.upstreams.activities.DeleteActivity(pb.ItemId(id=activity_id))
    return Response(status_code=204)
