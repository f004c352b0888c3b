"""Tasks: to-dos on records with a due date, an assignee, a status and reminders."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

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
    Reminder,
    Task,
    TaskCreate,
    TaskList,
    TaskStatus,
    TaskUpdate,
)
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import optional_datetime, to_datetime

router = PrefixedRouter(prefix="/v1/tasks", tags=["tasks"])

Reader = Annotated[RequestContext, Security(authenticated, scopes=["tasks:read"])]
Writer = Annotated[RequestContext, Security(authenticated, scopes=["tasks:write"])]


def to_task(message: pb.Task, response: Response | None = None) -> Task:
    task = Task(
        **meta_fields(message.meta),
        title=message.title,
        description=message.description,
        due_at=optional_datetime(message, "due_at"),
        assignee_id=message.assignee_id or None,
        status=message.status,
        completed_at=optional_datetime(message, "completed_at"),
        reminders=[
            Reminder(remind_at=to_datetime(r.remind_at), channel=r.channel)
            for r in message.reminders
        ],
    )
    if response is not None:
        response.headers["ETag"] = etag(task.version)
    return task


def _reminders(reminders: list[Reminder]) -> list[pb.ReminderInput]:
    return [pb.ReminderInput(remind_at=iso(r.remind_at), channel=r.channel) for r in reminders]


@router.post(
    "",
    status_code=201,
    summary="Create a task on records",
    description="A record of another tenant, or none, in `records` is 422.",
    response_model=Task,
    responses=problems(401, 403, 422),
)
async def create_task(
    body: TaskCreate, request: Request, response: Response, caller: Writer
) -> Task:
    create = pb.CreateTaskRequest(
        title=body.title,
        description=body.description,
        due_at=iso(body.due_at),
        assignee_id=body.assignee_id or "",
        status=body.status,
        reminders=_reminders(body.reminders),
        records=refs_to_proto(body.records),
        owner_id=body.owner_id or "",
    )
    task = to_task(await request.app.state.upstreams.tasks.CreateTask(create), response)
    response.headers["Location"] = f"/v1/tasks/{task.id}"
    return task


@router.get(
    "",
    summary="List tasks, soonest due first (undated last), with filters",
    description="Filters combine (AND): `assignee_id`, `status` (repeatable), `due_before` "
    "(exclusive), `due_after` (inclusive), `record`.",
    response_model=TaskList,
    responses=problems(401, 403, 404, 422),
)
async def list_tasks(
    request: Request,
    caller: Reader,
    record: Annotated[str | None, Query(max_length=200, description=RECORD_FILTER)] = None,
    assignee_id: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[list[TaskStatus] | None, Query(max_length=4)] = None,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> TaskList:
    query = pb.ListTasksRequest(
        assignee_id=assignee_id or "",
        statuses=status or [],
        due_before=iso(due_before),
        due_after=iso(due_after),
        limit=limit,
        cursor=cursor or "",
    )
    ref = record_param(record)
    if ref is not None:
        query.record.CopyFrom(ref)
    page = await request.app.state.upstreams.tasks.ListTasks(query)
    return TaskList(data=[to_task(t) for t in page.tasks], next_cursor=page.next_cursor or None)


@router.get(
    "/{task_id}", summary="Get a task", response_model=Task, responses=problems(401, 403, 404, 422)
)
async def get_task(task_id: str, request: Request, response: Response, caller: Reader) -> Task:
    return to_task(await request.app.state.upstreams.tasks.GetTask(pb.ItemId(id=task_id)), response)


def _update_request(task_id: str, body: TaskUpdate) -> pb.UpdateTaskRequest:
    update = pb.UpdateTaskRequest(id=task_id)
    sent = body.model_fields_set
    for name in ("title", "description", "status"):
        value = getattr(body, name)
        if value is not None:
            setattr(update, name, value)
    if "due_at" in sent:
        update.due_at = iso(body.due_at)
    for name in ("assignee_id", "owner_id"):
        if name in sent:
            setattr(update, name, getattr(body, name) or "")
    if body.reminders is not None:
        update.reminders.reminders.extend(_reminders(body.reminders))
    if body.records is not None:
        update.records.records.extend(refs_to_proto(body.records))
    return update


@router.patch(
    "/{task_id}",
    summary="Update some fields of a task",
    description="Send `If-Match` with the task's ETag to refuse a stale write (412).",
    response_model=Task,
    responses=problems(401, 403, 404, 412, 422),
)
async def update_task(
    task_id: str,
    body: TaskUpdate,
    request: Request,
    response: Response,
    caller: Writer,
    if_match: Annotated[str | None, Header()] = None,
) -> Task:
    update = _update_request(task_id, body)
    expected = parse_if_match(if_match)
    if expected is not None:
        update.expected_version = expected
    return to_task(await request.app.state.upstreams.tasks.UpdateTask(update), response)


@router.delete(
    "/{task_id}",
    status_code=204,
    summary="Delete a task",
    description="The records it was on stay.",
    responses=problems(401, 403, 404, 422),
)
async def delete_task(task_id: str, request: Request, caller: Writer) -> Response:
    await request.app.state.upstreams.tasks.DeleteTask(pb.ItemId(id=task_id))
    return Response(status_code=204)
