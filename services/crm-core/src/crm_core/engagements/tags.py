"""Tag use cases: tenant-wide labels (unique name ignoring case) put on records."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import crm_core_pb2 as events
from crm_core.events import outbox
from crm_core.models import RecordTag, Tag
from crm_core.timeline.record_refs import RecordRef, require_record
from crm_kit.context import current_context
from crm_kit.db.models import new_id
from crm_kit.db.session import session_tenant
from crm_kit.errors import Conflict, InvalidArgument, NotFound
from crm_kit.validation import clean_text

COLOR = re.compile(r"^#[0-9a-f]{6}$")
MAX_TAGS = 1000


def _name(value: str) -> str:
    return clean_text(value, field="name", max_length=50, required=True)


def _color(value: str) -> str:
    color = (value or "#808080").strip().lower()
    if not COLOR.match(color):
        raise InvalidArgument("color is #rrggbb", code="invalid_color", field="color")
    return color


def _changed(tag: Tag) -> events.TagChanged:
    return events.TagChanged(tag_id=str(tag.id), name=tag.name, color=tag.color)


async def _refuse_taken(session: AsyncSession, name: str, *, other_than: uuid.UUID | None) -> None:
    query = select(Tag.id).where(func.lower(Tag.name) == name.lower())
    found = await session.scalar(query)
    if found is not None and found != other_than:
        raise Conflict("a tag with this name exists", code="duplicate_tag", field="name")


async def create(session: AsyncSession, *, name: str, color: str) -> Tag:
    clean = _name(name)
    await _refuse_taken(session, clean, other_than=None)
    if (await session.scalar(select(func.count()).select_from(Tag)) or 0) >= MAX_TAGS:
        raise InvalidArgument(f"at most {MAX_TAGS} tags", code="too_many_tags", field="name")
    tag = Tag(id=new_id(), name=clean, color=_color(color), created_by=current_context().user_id)
    session.add(tag)
    await session.flush()
    outbox.add(
        session,
        event_type="crm_core.tag.created",
        tenant_id=tag.tenant_id,
        payload=_changed(tag),
    )
    return tag


async def get(session: AsyncSession, *, tag_id: uuid.UUID) -> Tag:
    tag = await session.get(Tag, tag_id)
    if tag is None:
        raise NotFound("tag not found", code="tag_not_found")
    return tag


async def list_all(session: AsyncSession) -> list[Tag]:
    """Every tag of the tenant by name (a tenant has at most MAX_TAGS)."""
    return list(await session.scalars(select(Tag).order_by(func.lower(Tag.name), Tag.id)))


async def update(
    session: AsyncSession, *, tag_id: uuid.UUID, name: str | None, color: str | None
) -> Tag:
    tag = await get(session, tag_id=tag_id)
    new_name = tag.name if name is None else _name(name)
    if new_name.lower() != tag.name.lower():
        await _refuse_taken(session, new_name, other_than=tag.id)
    new_color = tag.color if color is None else _color(color)
    if (new_name, new_color) == (tag.name, tag.color):
        return tag
    tag.name, tag.color = new_name, new_color
    await session.flush()
    outbox.add(
        session, event_type="crm_core.tag.updated", tenant_id=tag.tenant_id, payload=_changed(tag)
    )
    return tag


async def delete_tag(session: AsyncSession, *, tag_id: uuid.UUID) -> None:
    """Deletes the tag; it comes off every record (the records stay)."""
    tag = await get(session, tag_id=tag_id)
    await session.delete(tag)
    await session.flush()
    outbox.add(
        session,
        event_type="crm_core.tag.deleted",
        tenant_id=tag.tenant_id,
        payload=events.TagDeleted(tag_id=str(tag.id)),
    )


def _record_event(tag_id: uuid.UUID, ref: RecordRef) -> events.RecordTagChanged:
    return events.RecordTagChanged(
        tag_id=str(tag_id),
        record=events.RecordRef(record_type=ref.record_type, record_id=str(ref.record_id)),
    )


async def tag_record(session: AsyncSession, *, tag_id: uuid.UUID, record: RecordRef) -> None:
    """Puts the tag on the record; again is a no-op. Unknown tag or record: 404."""
    await get(session, tag_id=tag_id)
    await require_record(session, record)
    added = await session.execute(
        insert(RecordTag)
        .values(
            tenant_id=session_tenant(session),
            tag_id=tag_id,
            record_type=record.record_type,
            record_id=record.record_id,
        )
        .on_conflict_do_nothing()
        .returning(RecordTag.tag_id)
    )
    if added.first() is not None:
        outbox.add(
            session,
            event_type="crm_core.record.tagged",
            tenant_id=session_tenant(session),
            payload=_record_event(tag_id, record),
        )


async def untag_record(session: AsyncSession, *, tag_id: uuid.UUID, record: RecordRef) -> None:
    """Takes the tag off the record; a tag it does not carry is a no-op."""
    await get(session, tag_id=tag_id)
    await require_record(session, record)
    removed = await session.execute(
        delete(RecordTag)
        .where(
            RecordTag.tag_id == tag_id,
            RecordTag.record_type == record.record_type,
            RecordTag.record_id == record.record_id,
        )
        .returning(RecordTag.tag_id)
    )
    if removed.first() is not None:
        outbox.add(
            session,
            event_type="crm_core.record.untagged",
            tenant_id=session_tenant(session),
            payload=_record_event(tag_id, record),
        )


async def tags_of(session: AsyncSession, *, record: RecordRef) -> list[Tag]:
    await require_record(session, record)
    query = (
        select(Tag)
        .join(RecordTag, RecordTag.tag_id == Tag.id)
        .where(RecordTag.record_type == record.record_type, RecordTag.record_id == record.record_id)
        .order_by(func.lower(Tag.name), Tag.id)
    )
    return list(await session.scalars(query))
