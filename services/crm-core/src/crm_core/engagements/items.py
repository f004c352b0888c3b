"""What activities, tasks and notes share: get, attach, update with optimistic
concurrency, delete, list by keyset, and their outbox events.

Each item type declares an `ItemKind` (its model and how its fields read as JSON);
the use cases here take the kind, so the three types share one tested flow.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.struct_pb2 import Struct
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.elements import ColumnElement

from crm.events.v1 import crm_core_pb2 as events
from crm_core.engagements.links import linked_ids, links_of, remove_links, replace_links
from crm_core.events import outbox
from crm_core.timeline.cursor import decode_cursor, encode_cursor
from crm_core.timeline.field_history import json_value
from crm_core.timeline.record_refs import RecordRef, checked_refs
from crm_kit.context import current_context
from crm_kit.db.models import utcnow
from crm_kit.errors import InvalidArgument, NotFound, StaleVersion
from crm_kit.timestamps import to_timestamp

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class ItemKind:
    name: str  # activity, task, note
    model: Any
    fields: tuple[str, ...]  # the item's own fields, as events and change lists name them
    # Rules that follow from the new values (a task done gets completed_at).
    after_change: Callable[[Any], None] = lambda item: None


@dataclass(frozen=True)
class ItemPage:
    items: list[Any]
    next_cursor: str


def field_values(kind: ItemKind, item: Any) -> dict[str, Any]:
    return {name: json_value(getattr(item, name)) for name in kind.fields}


def _snapshot(kind: ItemKind, item: Any, refs: Sequence[RecordRef]) -> events.RecordItemSnapshot:
    fields = Struct()
    fields.update(field_values(kind, item))
    return events.RecordItemSnapshot(
        id=str(item.id),
        tenant_id=str(item.tenant_id),
        item_type=kind.name,
        fields=fields,
        records=[
            events.RecordRef(record_type=r.record_type, record_id=str(r.record_id)) for r in refs
        ],
        version=item.version,
        updated_at=to_timestamp(item.updated_at),
    )


async def add_item(
    session: AsyncSession, kind: ItemKind, item: Any, refs: Sequence[RecordRef]
) -> Any:
    """Writes a new item attached to `refs` (checked: all in the tenant) and its event."""
    checked = await checked_refs(session, refs)
    actor = current_context().user_id
    item.owner_id = item.owner_id or actor
    item.created_by = item.updated_by = actor
    kind.after_change(item)
    session.add(item)
    await session.flush()
    await replace_links(session, item_type=kind.name, item_id=item.id, refs=checked)
    outbox.add(
        session,
        event_type=f"crm_core.{kind.name}.created",
        tenant_id=item.tenant_id,
        payload=events.RecordItemCreated(item=_snapshot(kind, item, checked)),
    )
    return item


async def get_item(session: AsyncSession, kind: ItemKind, item_id: uuid.UUID) -> Any:
    item = await session.get(kind.model, item_id)
    if item is None:
        raise NotFound(f"{kind.name} not found", code=f"{kind.name}_not_found")
    return item


async def update_item(
    session: AsyncSession,
    kind: ItemKind,
    item_id: uuid.UUID,
    *,
    changes: dict[str, Any],
    refs: Sequence[RecordRef] | None,
    expected_version: int | None,
) -> Any:
    """Sets `changes` (already cleaned) and, when given, the records; publishes what changed."""
    item = await get_item(session, kind, item_id)
    if expected_version is not None and expected_version != item.version:
        raise StaleVersion(
            f"the {kind.name} changed since it was read",
            code="version_mismatch",
            version=item.version,
        )
    checked = None if refs is None else await checked_refs(session, refs)
    before_refs = (await links_of(session, kind.name, [item.id]))[item.id]
    before = field_values(kind, item)
    for name, value in changes.items():
        if getattr(item, name) != value:
            setattr(item, name, value)
    kind.after_change(item)
    after = field_values(kind, item)
    changed = [name for name in kind.fields if before[name] != after[name]]
    if checked is not None and checked != before_refs:
        changed.append("records")
    if not changed:
        return item
    item.updated_by = current_context().user_id
    item.updated_at = utcnow()
    try:
        await session.flush()
    except StaleDataError as exc:
        raise StaleVersion(
            f"the {kind.name} changed concurrently", code="version_mismatch"
        ) from exc
    if checked is not None and "records" in changed:
        await replace_links(session, item_type=kind.name, item_id=item.id, refs=checked)
    outbox.add(
        session,
        event_type=f"crm_core.{kind.name}.updated",
        tenant_id=item.tenant_id,
        payload=events.RecordItemUpdated(
            item=_snapshot(kind, item, checked if checked is not None else before_refs),
            changed_fields=changed,
        ),
    )
    return item


async def delete_item(session: AsyncSession, kind: ItemKind, item_id: uuid.UUID) -> None:
    """Deletes the item and its links (the records stay)."""
    item = await get_item(session, kind, item_id)
    await remove_links(session, item_type=kind.name, item_id=item.id)
    await session.delete(item)
    await session.flush()
    outbox.add(
        session,
        event_type=f"crm_core.{kind.name}.deleted",
        tenant_id=item.tenant_id,
        payload=events.RecordItemDeleted(
            item_type=kind.name, item_id=str(item.id), reason="deleted"
        ),
    )


def page_size(limit: int) -> int:
    if not 0 <= limit <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            f"limit must be 1..{MAX_PAGE_SIZE}", code="invalid_limit", field="limit"
        )
    return limit or DEFAULT_PAGE_SIZE


def attached_to(kind: ItemKind, record: RecordRef) -> ColumnElement[bool]:
    """The items of this kind attached to the record: the lists' `record` filter."""
    criterion: ColumnElement[bool] = kind.model.id.in_(linked_ids(kind.name, record))
    return criterion


def newest_order(at: Any, id_: Any) -> tuple[Any, Any]:
    """The order of the activity and note lists: (at, id) descending."""
    return at.desc(), id_.desc()


async def newest_first(
    session: AsyncSession, query: Select[Any], *, at: Any, id_: Any, limit: int, cursor: str
) -> ItemPage:
    """One page of `query`, ordered by (at, id) descending, after the cursor."""
    size = page_size(limit)
    if cursor:
        after_at, after_id = decode_cursor(cursor)
        query = query.where((at < after_at) | ((at == after_at) & (id_ < after_id)))
    rows = list(await session.scalars(query.order_by(*newest_order(at, id_)).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    last = rows[-1] if more else None
    return ItemPage(rows, encode_cursor(getattr(last, at.key), last.id) if last else "")


def parse_time(value: str, *, field: str) -> datetime | None:
    """ISO 8601 with an offset, as UTC; empty is none."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidArgument(f"{field} is ISO 8601", code="invalid_time", field=field) from exc
    if parsed.tzinfo is None:
        raise InvalidArgument(f"{field} needs a UTC offset", code="invalid_time", field=field)
    return parsed
