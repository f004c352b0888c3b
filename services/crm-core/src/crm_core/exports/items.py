"""Exports of activities, tasks and notes: their fixed columns and their lists' rows.

Custom fields are for records, so each item type has a fixed set of columns, named
as the API names its fields, in this default order:

- activities: id, kind, subject, body, occurred_at, duration_seconds,
  participant_contact_ids, participant_emails, records, owner_id, created_by,
  updated_by, version, created_at, updated_at
- tasks: id, title, description, status, due_at, completed_at, assignee_id,
  reminders, records, owner_id, created_by, updated_by, version, created_at, updated_at
- notes: id, body_html (the stored, sanitized HTML as text), records, owner_id,
  created_by, updated_by, version, created_at, updated_at

Lists in a cell are joined with `; `: `records` as `contacts:<id>; deals:<id>` (the
spelling of the lists' `record` filter), reminders as `<remind_at> <channel>`. Cells
are rendered as for records (`columns`): ISO 8601 UTC times, text neutralized
against formulas.

The rows are those the type's list would show the requester, in the list's order:
its filters (engagements' own criteria), its visibility (tasks: the `tasks` rule;
`record`: only while the requester may see that record) and its tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Select, Text, cast, column, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from crm_core.engagements import activities, notes
from crm_core.engagements.activities import ACTIVITY
from crm_core.engagements.items import ItemKind, attached_to, newest_order
from crm_core.engagements.notes import NOTE
from crm_core.engagements.tasks import DUE_ORDER, TASK, TaskFilter, clean_status, task_criteria
from crm_core.exports.columns import (
    MULTI_SEPARATOR,
    ExportColumn,
    Renderers,
    iso_utc,
    neutralized,
)
from crm_core.exports.query import ExportSelection, scoped
from crm_core.models import Activity, Note, RecordLink, Task
from crm_core.permissions.visibility import Audience
from crm_core.timeline.record_refs import record_exists
from crm_kit.errors import InvalidArgument

# The task-only filters, as ItemFilter names them.
TASK_FILTERS = ("assignee_id", "statuses", "due_before", "due_after")
SEARCH_PARTS = ("filter_groups", "sorts", "query")


@dataclass(frozen=True)
class ItemExport:
    name: str  # the object type: activities, tasks, notes
    kind: ItemKind
    columns: dict[str, ColumnElement[Any]]  # every column, in the default order
    order: tuple[Any, ...]  # the list's order

    @property
    def renderers(self) -> Renderers:
        return {
            name: lambda name=name, expr=expr: [ExportColumn(name, expr)]  # type: ignore[misc]
            for name, expr in self.columns.items()
        }


def _text(value: Any) -> ColumnElement[Any]:
    return cast(value, Text())


def _joined(values: Any) -> ColumnElement[Any]:
    return func.array_to_string(values, literal(MULTI_SEPARATOR, Text()))


def _records(kind: ItemKind) -> ColumnElement[Any]:
    """The item's records as `contacts:<id>; deals:<id>`, by type then id."""
    link = RecordLink
    ref = link.record_type + literal(":", Text()) + cast(link.record_id, Text())
    joined = func.string_agg(
        ref,
        aggregate_order_by(literal(MULTI_SEPARATOR, Text()), link.record_type, link.record_id),
    )
    return (
        select(joined)
        .where(link.item_type == kind.name, link.item_id == kind.model.id)
        .scalar_subquery()
    )


def _reminders() -> ColumnElement[Any]:
    """A task's reminders as `<remind_at> <channel>`, in their stored (time) order."""
    entries = (
        func.jsonb_array_elements(Task.reminders)
        .table_valued(column("value", JSONB), with_ordinality="position")
        .render_derived()
    )
    remind_at = cast(entries.c.value["remind_at"].astext, DateTime(timezone=True))
    entry = iso_utc(remind_at) + literal(" ", Text()) + entries.c.value["channel"].astext
    joined = func.string_agg(
        entry, aggregate_order_by(literal(MULTI_SEPARATOR, Text()), entries.c.position)
    )
    return select(joined).select_from(entries).scalar_subquery()


def _meta(kind: ItemKind) -> dict[str, ColumnElement[Any]]:
    model = kind.model
    return {
        "records": _records(kind),
        "owner_id": _text(model.owner_id),
        "created_by": _text(model.created_by),
        "updated_by": _text(model.updated_by),
        "version": _text(model.version),
        "created_at": iso_utc(model.created_at),
        "updated_at": iso_utc(model.updated_at),
    }


ACTIVITIES = ItemExport(
    name="activities",
    kind=ACTIVITY,
    columns={
        "id": _text(Activity.id),
        "kind": _text(Activity.kind),
        "subject": neutralized(Activity.subject),
        "body": neutralized(Activity.body),
        "occurred_at": iso_utc(Activity.occurred_at),
        "duration_seconds": _text(Activity.duration_seconds),
        "participant_contact_ids": _joined(Activity.participant_contact_ids),
        "participant_emails": neutralized(_joined(Activity.participant_emails)),
        **_meta(ACTIVITY),
    },
    order=newest_order(activities.LISTED_AT, Activity.id),
)

TASKS = ItemExport(
    name="tasks",
    kind=TASK,
    columns={
        "id": _text(Task.id),
        "title": neutralized(Task.title),
        "description": neutralized(Task.description),
        "status": _text(Task.status),
        "due_at": iso_utc(Task.due_at),
        "completed_at": iso_utc(Task.completed_at),
        "assignee_id": _text(Task.assignee_id),
        "reminders": _reminders(),
        **_meta(TASK),
    },
    order=DUE_ORDER,
)

NOTES = ItemExport(
    name="notes",
    kind=NOTE,
    columns={"id": _text(Note.id), "body_html": neutralized(Note.body_html), **_meta(NOTE)},
    order=newest_order(notes.LISTED_AT, Note.id),
)

ITEM_EXPORTS: dict[str, ItemExport] = {e.name: e for e in (ACTIVITIES, TASKS, NOTES)}


def check_item_selection(export: ItemExport, selection: ExportSelection) -> TaskFilter:
    """The list filters an item export takes; search parts and, but for tasks, the
    task-only filters are refused naming the field."""
    for part in SEARCH_PARTS:
        if getattr(selection, part):
            raise InvalidArgument(
                f"{export.name} exports take their list's filters in `items`, not {part}",
                code="invalid_filter",
                field=part,
            )
    filters = selection.items or TaskFilter()
    if export.kind is not TASK:
        for name in TASK_FILTERS:
            if getattr(filters, name):
                raise InvalidArgument(
                    f"items.{name} filters tasks only; {export.name} take items.record",
                    code="invalid_filter",
                    field=f"items.{name}",
                )
    for status in filters.statuses:
        clean_status(status, field="items.statuses")
    return filters


def build_item_select(
    export: ItemExport,
    *,
    columns: list[ExportColumn],
    filters: TaskFilter,
    audience: Audience,
    tenant: Any,
) -> Select[Any]:
    """The export's statement: the list's rows and order, the chosen columns."""
    model = export.kind.model
    where: list[ColumnElement[bool]] = [model.tenant_id == tenant]
    if filters.record is not None:
        # The list answers 404 for a record the caller may not see: no rows here.
        where.append(record_exists(filters.record))
    if export.kind is TASK:
        where.extend(task_criteria(filters))
    elif filters.record is not None:
        where.append(attached_to(export.kind, filters.record))
    statement = select(*(c.expr.label(f"c{i}") for i, c in enumerate(columns)))
    statement = statement.select_from(model).where(*where)
    return scoped(statement, audience=audience, tenant=tenant).order_by(*export.order)
