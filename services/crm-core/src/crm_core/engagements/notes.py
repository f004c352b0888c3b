"""Note use cases: sanitized HTML attached to records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.engagements.items import (
    ItemKind,
    ItemPage,
    add_item,
    attached_to,
    newest_first,
    update_item,
)
from crm_core.engagements.sanitize import sanitize_note
from crm_core.models import Note
from crm_core.timeline.record_refs import RecordRef, require_record
from crm_kit.db.models import new_id

NOTE = ItemKind(name="note", model=Note, fields=("body_html", "owner_id"))
# The list (and an export) runs newest first by this time.
LISTED_AT = Note.created_at


async def create(
    session: AsyncSession, *, body_html: str, refs: Sequence[RecordRef], owner_id: uuid.UUID | None
) -> Note:
    note = Note(id=new_id(), body_html=sanitize_note(body_html), owner_id=owner_id)
    return cast(Note, await add_item(session, NOTE, note, refs))


async def update(
    session: AsyncSession,
    *,
    note_id: uuid.UUID,
    changes: dict[str, Any],
    refs: Sequence[RecordRef] | None,
    expected_version: int | None,
) -> Note:
    if "body_html" in changes:
        changes = {**changes, "body_html": sanitize_note(str(changes["body_html"]))}
    return cast(
        Note,
        await update_item(
            session, NOTE, note_id, changes=changes, refs=refs, expected_version=expected_version
        ),
    )


async def list_page(
    session: AsyncSession, *, record: RecordRef | None, limit: int, cursor: str
) -> ItemPage:
    """Notes, newest first; only the record's when given (an unknown record is 404)."""
    query = select(Note)
    if record is not None:
        await require_record(session, record)
        query = query.where(attached_to(NOTE, record))
    return await newest_first(session, query, at=LISTED_AT, id_=Note.id, limit=limit, cursor=cursor)
