"""Activities, tasks, notes, tags, timeline entries <-> protobuf, nothing else."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from google.protobuf.struct_pb2 import Struct

from crm.crm_core.v1 import engagements_pb2 as pb
from crm_core.engagements.activities import ActivityCreate
from crm_core.engagements.items import parse_time
from crm_core.engagements.tasks import TaskCreate, TaskFilter
from crm_core.models import Activity, Note, Tag, Task
from crm_core.timeline.feed import TimelineEntry
from crm_core.timeline.field_history import json_value
from crm_core.timeline.record_refs import RecordRef, parse_ref
from crm_kit.timestamps import to_timestamp
from crm_kit.validation import optional_uuid, resource_id


def item_id(request: pb.ItemId, resource: str) -> uuid.UUID:
    return resource_id(request.id, resource=resource)


def _text(value: uuid.UUID | None) -> str:
    return str(value) if value else ""


def refs_from_proto(refs: Any) -> list[RecordRef]:
    return [parse_ref(r.record_type, r.record_id, field="records") for r in refs]


def optional_record(request: Any, *, field: str = "record") -> RecordRef | None:
    if not request.HasField("record"):
        return None
    return parse_ref(request.record.record_type, request.record.record_id, field=field)


def _meta(item: Any, refs: list[RecordRef]) -> pb.ItemMeta:
    return pb.ItemMeta(
        id=str(item.id),
        records=[pb.RecordRef(record_type=r.record_type, record_id=str(r.record_id)) for r in refs],
        owner_id=_text(item.owner_id),
        created_by=_text(item.created_by),
        updated_by=_text(item.updated_by),
        version=item.version,
        created_at=to_timestamp(item.created_at),
        updated_at=to_timestamp(item.updated_at),
    )


def activity_to_proto(activity: Activity, refs: list[RecordRef]) -> pb.Activity:
    message = pb.Activity(
        meta=_meta(activity, refs),
        kind=activity.kind,
        subject=activity.subject,
        body=activity.body,
        occurred_at=to_timestamp(activity.occurred_at),
        participant_contact_ids=[str(c) for c in activity.participant_contact_ids],
        participant_emails=activity.participant_emails,
    )
    if activity.duration_seconds is not None:
        message.duration_seconds = activity.duration_seconds
    return message


def task_to_proto(task: Task, refs: list[RecordRef]) -> pb.Task:
    message = pb.Task(
        meta=_meta(task, refs),
        title=task.title,
        description=task.description,
        assignee_id=_text(task.assignee_id),
        status=task.status,
        reminders=[
            pb.Reminder(
                remind_at=to_timestamp(datetime.fromisoformat(r["remind_at"])),
                channel=r["channel"],
            )
            for r in task.reminders
        ],
    )
    if task.due_at is not None:
        message.due_at.CopyFrom(to_timestamp(task.due_at))
    if task.completed_at is not None:
        message.completed_at.CopyFrom(to_timestamp(task.completed_at))
    return message


def note_to_proto(note: Note, refs: list[RecordRef]) -> pb.Note:
    return pb.Note(meta=_meta(note, refs), body_html=note.body_html)


def tag_to_proto(tag: Tag) -> pb.Tag:
    return pb.Tag(
        id=str(tag.id), name=tag.name, color=tag.color, created_at=to_timestamp(tag.created_at)
    )


def entry_to_proto(entry: TimelineEntry) -> pb.TimelineEntry:
    payload = Struct()
    payload.update(json_value(entry.payload))
    return pb.TimelineEntry(
        type=entry.type,
        id=str(entry.id),
        occurred_at=to_timestamp(entry.occurred_at),
        actor_id=_text(entry.actor_id),
        payload=payload,
    )


def activity_create(request: pb.CreateActivityRequest) -> ActivityCreate:
    return ActivityCreate(
        kind=request.kind,
        subject=request.subject,
        body=request.body,
        occurred_at=request.occurred_at,
        duration_seconds=(
            request.duration_seconds if request.HasField("duration_seconds") else None
        ),
        participant_contact_ids=_ids(request.participant_contact_ids),
        participant_emails=list(request.participant_emails),
        records=refs_from_proto(request.records),
        owner_id=optional_uuid(request.owner_id, field="owner_id"),
    )


def _ids(values: Any) -> list[uuid.UUID]:
    return [
        i
        for i in (optional_uuid(v, field="participant_contact_ids") for v in values)
        if i is not None
    ]


def _set_fields(request: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(request, name) for name in names if request.HasField(name)}


def activity_changes(request: pb.UpdateActivityRequest) -> dict[str, Any]:
    changes = _set_fields(
        request, ("kind", "subject", "body", "occurred_at", "duration_seconds", "owner_id")
    )
    if request.HasField("participant_contact_ids"):
        changes["participant_contact_ids"] = _ids(request.participant_contact_ids.values)
    if request.HasField("participant_emails"):
        changes["participant_emails"] = list(request.participant_emails.values)
    return _owner(changes)


def _owner(changes: dict[str, Any]) -> dict[str, Any]:
    for name in ("owner_id", "assignee_id"):
        if name in changes:
            changes[name] = optional_uuid(changes[name], field=name)
    return changes


def _reminders(values: Any) -> list[tuple[str, str]]:
    return [(r.remind_at, r.channel) for r in values]


def task_create(request: pb.CreateTaskRequest) -> TaskCreate:
    return TaskCreate(
        title=request.title,
        description=request.description,
        due_at=request.due_at,
        assignee_id=optional_uuid(request.assignee_id, field="assignee_id"),
        status=request.status or "open",
        reminders=_reminders(request.reminders),
        records=refs_from_proto(request.records),
        owner_id=optional_uuid(request.owner_id, field="owner_id"),
    )


def task_changes(request: pb.UpdateTaskRequest) -> dict[str, Any]:
    changes = _set_fields(
        request, ("title", "description", "due_at", "assignee_id", "status", "owner_id")
    )
    if request.HasField("reminders"):
        changes["reminders"] = _reminders(request.reminders.reminders)
    return _owner(changes)


def task_filter(request: Any, *, prefix: str = "") -> TaskFilter:
    """The filters of a ListTasksRequest, or of an export's ItemFilter (which spells
    them alike; its errors name `items.<field>`)."""
    return TaskFilter(
        record=optional_record(request, field=f"{prefix}record"),
        assignee_id=optional_uuid(request.assignee_id, field=f"{prefix}assignee_id"),
        statuses=tuple(request.statuses),
        due_before=parse_time(request.due_before, field=f"{prefix}due_before"),
        due_after=parse_time(request.due_after, field=f"{prefix}due_after"),
    )


def note_changes(request: pb.UpdateNoteRequest) -> dict[str, Any]:
    return _owner(_set_fields(request, ("body_html", "owner_id")))


def records_update(request: Any) -> list[RecordRef] | None:
    return refs_from_proto(request.records.records) if request.HasField("records") else None


def expected_version(request: Any) -> int | None:
    return request.expected_version if request.HasField("expected_version") else None
