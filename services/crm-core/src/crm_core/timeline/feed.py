"""A record's timeline: one UNION ALL over its sources, newest first, keyset-paged.

Sources: field changes (record_changes), notes, tasks and activities attached to the
record (record_links), and for deals their stage moves (deal_stage_history). Each
entry is ordered by (occurred_at, id) descending; the cursor is the last entry's
pair, so entries inserted while a client pages (always newer, or placed by their own
time) never shift or repeat what the next page returns. Notes and tasks occur at
their creation, activities at `occurred_at`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, func, literal, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Activity, DealStageHistory, Note, RecordChange, RecordLink, Task
from crm_core.timeline.cursor import decode_cursor, encode_cursor
from crm_core.timeline.record_refs import RecordRef, require_record
from crm_kit.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class TimelineEntry:
    type: str
    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str


def _row(kind: str, id_: Any, at: Any, actor: Any, payload: Any) -> Select[Any]:
    return select(
        literal(kind, String).label("type"),
        id_.label("id"),
        at.label("occurred_at"),
        actor.label("actor_id"),
        payload.label("payload"),
    )


def _linked(item_type: str, item_id: Any, ref: RecordRef) -> Any:
    return (
        (RecordLink.item_type == item_type)
        & (RecordLink.item_id == item_id)
        & (RecordLink.record_type == ref.record_type)
        & (RecordLink.record_id == ref.record_id)
    )


def _sources(ref: RecordRef) -> list[Select[Any]]:
    obj = func.jsonb_build_object
    sources = [
        _row(
            "field_change",
            RecordChange.id,
            RecordChange.changed_at,
            RecordChange.changed_by,
            obj("changes", RecordChange.changes),
        ).where(
            RecordChange.record_type == ref.record_type, RecordChange.record_id == ref.record_id
        ),
        _row(
            "note", Note.id, Note.created_at, Note.created_by, obj("body_html", Note.body_html)
        ).join(RecordLink, _linked("note", Note.id, ref)),
        _row(
            "task",
            Task.id,
            Task.created_at,
            Task.created_by,
            obj(
                "title",
                Task.title,
                "status",
                Task.status,
                "due_at",
                Task.due_at,
                "assignee_id",
                Task.assignee_id,
            ),
        ).join(RecordLink, _linked("task", Task.id, ref)),
        _row(
            "activity",
            Activity.id,
            Activity.occurred_at,
            Activity.created_by,
            obj(
                "kind",
                Activity.kind,
                "subject",
                Activity.subject,
                "duration_seconds",
                Activity.duration_seconds,
            ),
        ).join(RecordLink, _linked("activity", Activity.id, ref)),
    ]
    if ref.record_type == "deals":
        sources.append(
            _row(
                "stage_move",
                DealStageHistory.id,
                DealStageHistory.moved_at,
                DealStageHistory.moved_by,
                obj(
                    "from_stage_id",
                    DealStageHistory.from_stage_id,
                    "to_stage_id",
                    DealStageHistory.to_stage_id,
                    "time_in_previous_stage_seconds",
                    DealStageHistory.time_in_previous_stage_seconds,
                ),
            ).where(DealStageHistory.deal_id == ref.record_id)
        )
    return sources


async def timeline(
    session: AsyncSession, *, ref: RecordRef, limit: int = 0, cursor: str = ""
) -> TimelinePage:
    """The record's entries, newest first; an unknown record is NotFound."""
    if not 0 <= limit <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            f"limit must be 1..{MAX_PAGE_SIZE}", code="invalid_limit", field="limit"
        )
    size = limit or DEFAULT_PAGE_SIZE
    await require_record(session, ref)
    feed = union_all(*_sources(ref)).subquery("feed")
    query = select(feed).order_by(feed.c.occurred_at.desc(), feed.c.id.desc()).limit(size + 1)
    if cursor:
        query = query.where(tuple_(feed.c.occurred_at, feed.c.id) < tuple_(*decode_cursor(cursor)))
    rows = (await session.execute(query)).all()
    entries = [TimelineEntry(r.type, r.id, r.occurred_at, r.actor_id, r.payload) for r in rows]
    more = len(entries) > size
    entries = entries[:size]
    last = entries[-1] if more else None
    return TimelinePage(
        entries=entries, next_cursor=encode_cursor(last.occurred_at, last.id) if last else ""
    )
