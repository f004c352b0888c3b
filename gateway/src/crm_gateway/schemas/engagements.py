"""Request and response bodies of activities, tasks, notes, tags and timelines."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel

RecordType = Literal["contacts", "companies", "leads", "deals"]
ActivityKind = Literal["call", "meeting", "email"]
TaskStatus = Literal["open", "in_progress", "done", "cancelled"]
NEXT_CURSOR = "Pass as `cursor` for the next page; null at the end"
RECORDS = "Records (of any type, of your tenant) the item is attached to"


class RecordRef(ApiModel):
    record_type: RecordType = Field(examples=["contacts"])
    record_id: str = Field(
        min_length=1, max_length=100, examples=["5b0c5c1e-3f7a-4c39-9d0e-2f6f1d9b6a10"]
    )


class ItemMeta(ApiModel):
    id: str
    records: list[RecordRef] = Field(description=RECORDS)
    owner_id: str | None
    created_by: str | None
    updated_by: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class ActivityCreate(ApiModel):
    kind: ActivityKind = Field(examples=["call"])
    subject: str = Field(min_length=1, max_length=200, examples=["Discovery call"])
    body: str = Field(default="", max_length=65535)
    occurred_at: datetime | None = Field(default=None, description="Absent: now")
    duration_seconds: int | None = Field(default=None, ge=0, le=10**9, examples=[900])
    participant_contact_ids: list[str] = Field(default_factory=list, max_length=100)
    participant_emails: list[str] = Field(
        default_factory=list, max_length=100, examples=[["ada@example.com"]]
    )
    records: list[RecordRef] = Field(default_factory=list, max_length=20, description=RECORDS)
    owner_id: str | None = Field(default=None, description="Defaults to the caller")


class ActivityUpdate(ApiModel):
    """Only the fields present change; `records`, when present, replaces the attachments."""

    kind: ActivityKind | None = None
    subject: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=65535)
    occurred_at: datetime | None = None
    duration_seconds: int | None = Field(default=None, ge=0, le=10**9)
    participant_contact_ids: list[str] | None = Field(default=None, max_length=100)
    participant_emails: list[str] | None = Field(default=None, max_length=100)
    records: list[RecordRef] | None = Field(default=None, max_length=20)
    owner_id: str | None = None


class Activity(ItemMeta):
    kind: ActivityKind
    subject: str
    body: str
    occurred_at: datetime
    duration_seconds: int | None
    participant_contact_ids: list[str]
    participant_emails: list[str]


class ActivityList(ApiModel):
    data: list[Activity]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class Reminder(ApiModel):
    remind_at: datetime = Field(examples=["2027-01-15T09:00:00Z"])
    channel: Literal["in_app", "email"] = "in_app"


class TaskCreate(ApiModel):
    title: str = Field(min_length=1, max_length=200, examples=["Send the proposal"])
    description: str = Field(default="", max_length=65535)
    due_at: datetime | None = Field(default=None, examples=["2027-01-15T17:00:00Z"])
    assignee_id: str | None = None
    status: TaskStatus = "open"
    reminders: list[Reminder] = Field(
        default_factory=list, max_length=10, description="Stored as data; nothing sends them yet"
    )
    records: list[RecordRef] = Field(default_factory=list, max_length=20, description=RECORDS)
    owner_id: str | None = Field(default=None, description="Defaults to the caller")


class TaskUpdate(ApiModel):
    """Only the fields present change; null `due_at`/`assignee_id` clears it. A task
    set to `done` gets `completed_at`; set back, it loses it."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=65535)
    due_at: datetime | None = None
    assignee_id: str | None = None
    status: TaskStatus | None = None
    reminders: list[Reminder] | None = Field(default=None, max_length=10)
    records: list[RecordRef] | None = Field(default=None, max_length=20)
    owner_id: str | None = None


class Task(ItemMeta):
    title: str
    description: str
    due_at: datetime | None
    assignee_id: str | None
    status: TaskStatus
    completed_at: datetime | None
    reminders: list[Reminder]


class TaskList(ApiModel):
    data: list[Task]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class NoteCreate(ApiModel):
    body_html: str = Field(
        min_length=1,
        max_length=100_000,
        description="HTML; only formatting tags (p, strong, em, lists, headings, links ...) "
        "are kept, scripts, styles, event handlers and javascript: URLs are removed",
        examples=["<p>Met at the fair, <strong>wants a demo</strong>.</p>"],
    )
    records: list[RecordRef] = Field(default_factory=list, max_length=20, description=RECORDS)
    owner_id: str | None = Field(default=None, description="Defaults to the caller")


class NoteUpdate(ApiModel):
    body_html: str | None = Field(default=None, min_length=1, max_length=100_000)
    records: list[RecordRef] | None = Field(default=None, max_length=20)
    owner_id: str | None = None


class Note(ItemMeta):
    body_html: str = Field(description="Sanitized HTML")


class NoteList(ApiModel):
    data: list[Note]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class TagCreate(ApiModel):
    name: str = Field(min_length=1, max_length=50, examples=["VIP"])
    color: str = Field(default="#808080", pattern=r"^#[0-9a-fA-F]{6}$", examples=["#ff8800"])


class TagUpdate(ApiModel):
    name: str | None = Field(default=None, min_length=1, max_length=50)
    color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")


class Tag(ApiModel):
    id: str
    name: str
    color: str
    created_at: datetime


class TagList(ApiModel):
    data: list[Tag]


class TimelineEntry(ApiModel):
    type: Literal["field_change", "note", "task", "activity", "stage_move"]
    id: str = Field(description="The id of the change, note, task, activity or stage move")
    occurred_at: datetime
    actor_id: str | None = Field(description="Who made the change or wrote the item")
    payload: dict[str, Any] = Field(
        description="field_change: `changes` {field: [old, new]}; note: `body_html`; task: "
        "title, status, due_at, assignee_id; activity: kind, subject, duration_seconds; "
        "stage_move: from_stage_id, to_stage_id, time_in_previous_stage_seconds"
    )


class Timeline(ApiModel):
    data: list[TimelineEntry]
    next_cursor: str | None = Field(description=NEXT_CURSOR)
