"""Task use cases: to-dos with a due date, an assignee, a status and reminders (data)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm_core.engagements.items import (
    ItemKind,
    ItemPage,
    add_item,
    attached_to,
    page_size,
    parse_time,
    update_item,
)
from crm_core.models import Task
from crm_core.models.engagement import TASK_STATUSES
from crm_core.timeline.cursor import decode_cursor, encode_cursor
from crm_core.timeline.record_refs import RecordRef, require_record
from crm_kit.db.models import new_id, utcnow
from crm_kit.errors import InvalidArgument
from crm_kit.validation import clean_text

REMINDER_CHANNELS = ("in_app", "email")
MAX_REMINDERS = 10
# Undated tasks sort after every dated one.
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=UTC)


def _completion(task: Task) -> None:
    """A task done gets its completion time; reopened, it loses it."""
    if task.status == "done" and task.completed_at is None:
        task.completed_at = utcnow()
    elif task.status != "done" and task.completed_at is not None:
        task.completed_at = None


TASK = ItemKind(
    name="task",
    model=Task,
    fields=(
        "title",
        "description",
        "due_at",
        "assignee_id",
        "status",
        "completed_at",
        "reminders",
        "owner_id",
    ),
    after_change=_completion,
)


@dataclass(frozen=True)
class TaskCreate:
    title: str
    description: str = ""
    due_at: str = ""
    assignee_id: uuid.UUID | None = None
    status: str = "open"
    reminders: list[tuple[str, str]] = field(default_factory=list)
    records: list[RecordRef] = field(default_factory=list)
    owner_id: uuid.UUID | None = None


@dataclass(frozen=True)
class TaskFilter:
    record: RecordRef | None = None
    assignee_id: uuid.UUID | None = None
    statuses: tuple[str, ...] = ()
    due_before: datetime | None = None
    due_after: datetime | None = None


def clean_status(value: Any, *, field: str = "status") -> str:
    if value not in TASK_STATUSES:
        raise InvalidArgument(
            f"status is one of {', '.join(TASK_STATUSES)}", code="invalid_status", field=field
        )
    return str(value)


def _reminders(values: Any) -> list[dict[str, str]]:
    """[(remind_at, channel)] as sorted JSON data; nothing sends them yet."""
    if len(values) > MAX_REMINDERS:
        raise InvalidArgument(
            f"at most {MAX_REMINDERS} reminders", code="too_many_reminders", field="reminders"
        )
    clean = []
    for at, channel in values:
        when = parse_time(at, field="reminders")
        if when is None or channel not in REMINDER_CHANNELS:
            raise InvalidArgument(
                f"a reminder has remind_at and a channel ({', '.join(REMINDER_CHANNELS)})",
                code="invalid_reminder",
                field="reminders",
            )
        clean.append({"remind_at": when.astimezone(UTC).isoformat(), "channel": channel})
    return sorted(clean, key=lambda r: (r["remind_at"], r["channel"]))


CLEANERS: dict[str, Any] = {
    "title": lambda v: clean_text(str(v), field="title", max_length=200, required=True),
    "description": lambda v: clean_text(str(v), field="description", max_length=65535),
    "due_at": lambda v: parse_time(str(v), field="due_at"),
    "assignee_id": lambda v: v,
    "status": clean_status,
    "reminders": _reminders,
    "owner_id": lambda v: v,
}


def cleaned(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(CLEANERS)
    if unknown:
        raise InvalidArgument(f"unknown fields: {sorted(unknown)}", code="unknown_field")
    return {name: CLEANERS[name](value) for name, value in changes.items()}


async def create(session: AsyncSession, *, data: TaskCreate) -> Task:
    values = cleaned({name: getattr(data, name) for name in CLEANERS})
    return cast(Task, await add_item(session, TASK, Task(id=new_id(), **values), data.records))


async def update(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    changes: dict[str, Any],
    refs: Sequence[RecordRef] | None,
    expected_version: int | None,
) -> Task:
    return cast(
        Task,
        await update_item(
            session,
            TASK,
            task_id,
            changes=cleaned(changes),
            refs=refs,
            expected_version=expected_version,
        ),
    )


def task_criteria(filters: TaskFilter) -> list[ColumnElement[bool]]:
    """The list filters as SQL conditions (statuses checked), for the list and exports.
    The record's own existence is the caller's to check (`require_record`)."""
    criteria: list[ColumnElement[bool]] = []
    if filters.record is not None:
        criteria.append(attached_to(TASK, filters.record))
    if filters.assignee_id is not None:
        criteria.append(Task.assignee_id == filters.assignee_id)
    if filters.statuses:
        # literal() elements, not an expanding list: exports compile the statement once.
        criteria.append(Task.status.in_([literal(clean_status(s)) for s in filters.statuses]))
    if filters.due_before is not None:
        criteria.append(Task.due_at < filters.due_before)
    if filters.due_after is not None:
        criteria.append(Task.due_at >= filters.due_after)
    return criteria


# The list's order: soonest due first, undated last, ties by id.
DUE_ORDER = (func.coalesce(Task.due_at, NO_DUE_DATE), Task.id)


async def list_page(
    session: AsyncSession, *, filters: TaskFilter, limit: int, cursor: str
) -> ItemPage:
    """Tasks matching every filter set, soonest due first (undated last), ties by id."""
    size = page_size(limit)
    due = DUE_ORDER[0]
    if filters.record is not None:
        await require_record(session, filters.record)
    query = select(Task).where(*task_criteria(filters))
    if cursor:
        after_due, after_id = decode_cursor(cursor)
        query = query.where((due > after_due) | ((due == after_due) & (Task.id > after_id)))
    rows = list(await session.scalars(query.order_by(*DUE_ORDER).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    last = rows[-1] if more else None
    next_cursor = encode_cursor(last.due_at or NO_DUE_DATE, last.id) if last else ""
    return ItemPage(rows, next_cursor)
