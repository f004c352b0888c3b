"""Activity, task, note, tag and timeline servicers: decode, call the service, encode.

Roles: reading needs READ, everything else WRITE on the area (`notes`, `tasks` ...), so
a member may delete the activities, tasks and notes they work with (records and tags
of the tenant stay with the role matrix's DELETE). A timeline needs READ on its object
type. Sessions apply record visibility, so a record the caller cannot see is 404.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import engagements_pb2 as pb
from crm.crm_core.v1 import engagements_pb2_grpc as pb_grpc
from crm_core.engagements import activities, notes, tags, tasks
from crm_core.engagements import mappers as m
from crm_core.engagements.activities import ACTIVITY
from crm_core.engagements.items import delete_item, get_item
from crm_core.engagements.links import links_of
from crm_core.engagements.notes import NOTE
from crm_core.engagements.tasks import TASK
from crm_core.permissions.roles import Action, authorize
from crm_core.permissions.visibility import caller_session
from crm_core.records.registry import object_spec
from crm_core.timeline.feed import timeline
from crm_core.timeline.record_refs import RecordRef
from crm_kit.grpc.server import ServiceRegistration
from crm_kit.validation import optional_uuid, resource_id

_NAMES = pb.DESCRIPTOR.services_by_name
ACTIVITY_SERVICE = _NAMES["ActivityService"].full_name
TASK_SERVICE = _NAMES["TaskService"].full_name
NOTE_SERVICE = _NAMES["NoteService"].full_name
TAG_SERVICE = _NAMES["TagService"].full_name
TIMELINE_SERVICE = _NAMES["TimelineService"].full_name

Factory = async_sessionmaker[AsyncSession]
Encoded = TypeVar("Encoded")


async def _encoded(
    session: AsyncSession, item_type: str, items: Sequence[Any], encode: Callable[..., Encoded]
) -> list[Encoded]:
    refs = await links_of(session, item_type, [i.id for i in items])
    return [encode(i, refs[i.id]) for i in items]


@dataclass
class ActivityServicer(pb_grpc.ActivityServiceServicer):
    factory: Factory

    async def CreateActivity(  # noqa: N802 - gRPC method name
        self, request: pb.CreateActivityRequest, context: ServicerContext
    ) -> pb.Activity:
        authorize(Action.WRITE, "activities")
        async with caller_session(self.factory) as session:
            made = await activities.create(session, data=m.activity_create(request))
            [out] = await _encoded(session, "activity", [made], m.activity_to_proto)
        return out

    async def GetActivity(self, request: pb.ItemId, context: ServicerContext) -> pb.Activity:  # noqa: N802
        authorize(Action.READ, "activities")
        async with caller_session(self.factory) as session:
            found = await get_item(session, ACTIVITY, m.item_id(request, "activity"))
            [out] = await _encoded(session, "activity", [found], m.activity_to_proto)
        return out

    async def ListActivities(  # noqa: N802 - gRPC method name
        self, request: pb.ListItemsRequest, context: ServicerContext
    ) -> pb.ListActivitiesResponse:
        authorize(Action.READ, "activities")
        async with caller_session(self.factory) as session:
            page = await activities.list_page(
                session,
                record=m.optional_record(request),
                limit=request.limit,
                cursor=request.cursor,
            )
            out = await _encoded(session, "activity", page.items, m.activity_to_proto)
        return pb.ListActivitiesResponse(activities=out, next_cursor=page.next_cursor)

    async def UpdateActivity(  # noqa: N802 - gRPC method name
        self, request: pb.UpdateActivityRequest, context: ServicerContext
    ) -> pb.Activity:
        authorize(Action.WRITE, "activities")
        async with caller_session(self.factory) as session:
            changed = await activities.update(
                session,
                activity_id=resource_id(request.id, resource="activity"),
                changes=m.activity_changes(request),
                refs=m.records_update(request),
                expected_version=m.expected_version(request),
            )
            [out] = await _encoded(session, "activity", [changed], m.activity_to_proto)
        return out

    async def DeleteActivity(self, request: pb.ItemId, context: ServicerContext) -> pb.Empty:  # noqa: N802
        authorize(Action.WRITE, "activities")
        async with caller_session(self.factory) as session:
            await delete_item(session, ACTIVITY, m.item_id(request, "activity"))
        return pb.Empty()


@dataclass
class TaskServicer(pb_grpc.TaskServiceServicer):
    factory: Factory

    async def CreateTask(self, request: pb.CreateTaskRequest, context: ServicerContext) -> pb.Task:  # noqa: N802
        authorize(Action.WRITE, "tasks")
        async with caller_session(self.factory) as session:
            made = await tasks.create(session, data=m.task_create(request))
            [out] = await _encoded(session, "task", [made], m.task_to_proto)
        return out

    async def GetTask(self, request: pb.ItemId, context: ServicerContext) -> pb.Task:  # noqa: N802
        authorize(Action.READ, "tasks")
        async with caller_session(self.factory) as session:
            found = await get_item(session, TASK, m.item_id(request, "task"))
            [out] = await _encoded(session, "task", [found], m.task_to_proto)
        return out

    async def ListTasks(  # noqa: N802 - gRPC method name
        self, request: pb.ListTasksRequest, context: ServicerContext
    ) -> pb.ListTasksResponse:
        authorize(Action.READ, "tasks")
        async with caller_session(self.factory) as session:
            page = await tasks.list_page(
                session, filters=m.task_filter(request), limit=request.limit, cursor=request.cursor
            )
            out = await _encoded(session, "task", page.items, m.task_to_proto)
        return pb.ListTasksResponse(tasks=out, next_cursor=page.next_cursor)

    async def UpdateTask(self, request: pb.UpdateTaskRequest, context: ServicerContext) -> pb.Task:  # noqa: N802
        authorize(Action.WRITE, "tasks")
        async with caller_session(self.factory) as session:
            changed = await tasks.update(
                session,
                task_id=resource_id(request.id, resource="task"),
                changes=m.task_changes(request),
                refs=m.records_update(request),
                expected_version=m.expected_version(request),
            )
            [out] = await _encoded(session, "task", [changed], m.task_to_proto)
        return out

    async def DeleteTask(self, request: pb.ItemId, context: ServicerContext) -> pb.Empty:  # noqa: N802
        authorize(Action.WRITE, "tasks")
        async with caller_session(self.factory) as session:
            await delete_item(session, TASK, m.item_id(request, "task"))
        return pb.Empty()


@dataclass
class NoteServicer(pb_grpc.NoteServiceServicer):
    factory: Factory

    async def CreateNote(self, request: pb.CreateNoteRequest, context: ServicerContext) -> pb.Note:  # noqa: N802
        authorize(Action.WRITE, "notes")
        async with caller_session(self.factory) as session:
            made = await notes.create(
                session,
                body_html=request.body_html,
                refs=m.refs_from_proto(request.records),
                owner_id=optional_uuid(request.owner_id, field="owner_id"),
            )
            [out] = await _encoded(session, "note", [made], m.note_to_proto)
        return out

    async def GetNote(self, request: pb.ItemId, context: ServicerContext) -> pb.Note:  # noqa: N802
        authorize(Action.READ, "notes")
        async with caller_session(self.factory) as session:
            found = await get_item(session, NOTE, m.item_id(request, "note"))
            [out] = await _encoded(session, "note", [found], m.note_to_proto)
        return out

    async def ListNotes(  # noqa: N802 - gRPC method name
        self, request: pb.ListItemsRequest, context: ServicerContext
    ) -> pb.ListNotesResponse:
        authorize(Action.READ, "notes")
        async with caller_session(self.factory) as session:
            page = await notes.list_page(
                session,
                record=m.optional_record(request),
                limit=request.limit,
                cursor=request.cursor,
            )
            out = await _encoded(session, "note", page.items, m.note_to_proto)
        return pb.ListNotesResponse(notes=out, next_cursor=page.next_cursor)

    async def UpdateNote(self, request: pb.UpdateNoteRequest, context: ServicerContext) -> pb.Note:  # noqa: N802
        authorize(Action.WRITE, "notes")
        async with caller_session(self.factory) as session:
            changed = await notes.update(
                session,
                note_id=resource_id(request.id, resource="note"),
                changes=m.note_changes(request),
                refs=m.records_update(request),
                expected_version=m.expected_version(request),
            )
            [out] = await _encoded(session, "note", [changed], m.note_to_proto)
        return out

    async def DeleteNote(self, request: pb.ItemId, context: ServicerContext) -> pb.Empty:  # noqa: N802
        authorize(Action.WRITE, "notes")
        async with caller_session(self.factory) as session:
            await delete_item(session, NOTE, m.item_id(request, "note"))
        return pb.Empty()


@dataclass
class TagServicer(pb_grpc.TagServiceServicer):
    factory: Factory

    async def CreateTag(self, request: pb.CreateTagRequest, context: ServicerContext) -> pb.Tag:  # noqa: N802
        authorize(Action.WRITE, "tags")
        async with caller_session(self.factory) as session:
            tag = await tags.create(session, name=request.name, color=request.color)
        return m.tag_to_proto(tag)

    async def ListTags(self, request: pb.Empty, context: ServicerContext) -> pb.ListTagsResponse:  # noqa: N802
        authorize(Action.READ, "tags")
        async with caller_session(self.factory) as session:
            found = await tags.list_all(session)
        return pb.ListTagsResponse(tags=[m.tag_to_proto(t) for t in found])

    async def UpdateTag(self, request: pb.UpdateTagRequest, context: ServicerContext) -> pb.Tag:  # noqa: N802
        authorize(Action.WRITE, "tags")
        async with caller_session(self.factory) as session:
            tag = await tags.update(
                session,
                tag_id=resource_id(request.id, resource="tag"),
                name=request.name if request.HasField("name") else None,
                color=request.color if request.HasField("color") else None,
            )
        return m.tag_to_proto(tag)

    async def DeleteTag(self, request: pb.ItemId, context: ServicerContext) -> pb.Empty:  # noqa: N802
        authorize(Action.DELETE, "tags")
        async with caller_session(self.factory) as session:
            await tags.delete_tag(session, tag_id=m.item_id(request, "tag"))
        return pb.Empty()

    async def TagRecord(self, request: pb.TagRecordRequest, context: ServicerContext) -> pb.Empty:  # noqa: N802
        authorize(Action.WRITE, "tags")
        async with caller_session(self.factory) as session:
            await tags.tag_record(
                session,
                tag_id=resource_id(request.tag_id, resource="tag"),
                record=_path_ref(request.record),
            )
        return pb.Empty()

    async def UntagRecord(self, request: pb.TagRecordRequest, context: ServicerContext) -> pb.Empty:  # noqa: N802
        authorize(Action.WRITE, "tags")
        async with caller_session(self.factory) as session:
            await tags.untag_record(
                session,
                tag_id=resource_id(request.tag_id, resource="tag"),
                record=_path_ref(request.record),
            )
        return pb.Empty()

    async def ListRecordTags(  # noqa: N802 - gRPC method name
        self, request: pb.RecordRef, context: ServicerContext
    ) -> pb.ListTagsResponse:
        authorize(Action.READ, "tags")
        async with caller_session(self.factory) as session:
            found = await tags.tags_of(session, record=_path_ref(request))
        return pb.ListTagsResponse(tags=[m.tag_to_proto(t) for t in found])


def _path_ref(ref: pb.RecordRef) -> RecordRef:
    """A record named in a path: a malformed id answers like an unknown one (404)."""
    spec = object_spec(ref.record_type, field_name="record_type")
    return RecordRef(spec.name, resource_id(ref.record_id, resource="record"))


@dataclass
class TimelineServicer(pb_grpc.TimelineServiceServicer):
    factory: Factory

    async def GetTimeline(  # noqa: N802 - gRPC method name
        self, request: pb.TimelineRequest, context: ServicerContext
    ) -> pb.TimelineResponse:
        ref = _path_ref(request.record)
        authorize(Action.READ, ref.record_type)
        async with caller_session(self.factory) as session:
            page = await timeline(session, ref=ref, limit=request.limit, cursor=request.cursor)
        return pb.TimelineResponse(
            entries=[m.entry_to_proto(e) for e in page.entries], next_cursor=page.next_cursor
        )


def engagement_registrations(factory: Factory) -> list[ServiceRegistration]:
    """The activity, task, note, tag and timeline services, ready to add to a server."""
    servicers: list[tuple[str, Any, Callable[[Any, Any], None]]] = [
        (
            ACTIVITY_SERVICE,
            ActivityServicer(factory),
            pb_grpc.add_ActivityServiceServicer_to_server,
        ),
        (TASK_SERVICE, TaskServicer(factory), pb_grpc.add_TaskServiceServicer_to_server),
        (NOTE_SERVICE, NoteServicer(factory), pb_grpc.add_NoteServiceServicer_to_server),
        (TAG_SERVICE, TagServicer(factory), pb_grpc.add_TagServiceServicer_to_server),
        (
            TIMELINE_SERVICE,
            TimelineServicer(factory),
            pb_grpc.add_TimelineServiceServicer_to_server,
        ),
    ]
    return [ServiceRegistration(name, partial(add, servicer)) for name, servicer, add in servicers]
