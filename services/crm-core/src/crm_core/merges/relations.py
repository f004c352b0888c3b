"""What moves from a merged record to its survivor, one relation at a time.

Contacts: company links (the survivor's primary stays; a shared company keeps one
link), deal participation, leads converted into it, activity participants. Companies:
contact links (a contact whose primary was the merged company gets the survivor as
primary), deals, leads converted into it. Both: custom relation values pointing at it,
links of activities/tasks/notes, tags, field-change history and files (record_links,
record_tags, record_changes, files). Every statement sees the whole tenant (EVERY_RECORD):
a relation the caller cannot see must move too.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.custom_fields.repository import custom_field_repository
from crm_core.models import (
    Activity,
    ContactCompany,
    Deal,
    DealContact,
    Lead,
    RecordChange,
    RecordLink,
    RecordTag,
    StoredFile,
)
from crm_core.permissions.visibility import EVERY_RECORD
from crm_core.records.registry import object_spec

OPTIONS: dict[str, Any] = {"synchronize_session": False, **EVERY_RECORD}


async def _run(session: AsyncSession, statement: Any) -> None:
    await session.execute(statement.execution_options(**OPTIONS))


async def _repoint(
    session: AsyncSession, column: Any, merged: uuid.UUID, survivor: uuid.UUID
) -> None:
    """Every row whose `column` is the merged id now names the survivor."""
    await _run(
        session, update(column.class_).where(column == merged).values({column.key: survivor})
    )


async def _move_keyed(
    session: AsyncSession, model: Any, key: Any, record: Any, merged: uuid.UUID, survivor: uuid.UUID
) -> None:
    """Moves rows of a link table whose primary key holds the record id: rows the
    survivor already has (same `key`) are dropped first, so no key collides."""
    taken = select(key).where(record == survivor).scalar_subquery()
    await _run(session, delete(model).where(record == merged, key.in_(taken)))
    await _repoint(session, record, merged, survivor)


async def _move_shared(
    session: AsyncSession, object_type: str, merged: uuid.UUID, survivor: uuid.UUID
) -> None:
    """Custom relation values, item links, tags and history: common to every type."""
    for definition in await custom_field_repository.relations_to(session, object_type):
        spec = object_spec(definition.object_type)
        column = spec.custom_fields_column
        value = func.jsonb_build_object(definition.key, str(survivor))
        await _run(
            session,
            update(spec.model)
            .where(column[definition.key].astext == str(merged))
            .values(custom_fields=column.op("||")(value)),
        )
    for model, key in ((RecordLink, RecordLink.item_id), (RecordTag, RecordTag.tag_id)):
        kind = model.record_type == object_type
        taken = select(key).where(kind, model.record_id == survivor).scalar_subquery()
        await _run(session, delete(model).where(kind, model.record_id == merged, key.in_(taken)))
        await _run(
            session,
            update(model).where(kind, model.record_id == merged).values(record_id=survivor),
        )
    for history in (RecordChange, StoredFile):
        await _run(
            session,
            update(history)
            .where(history.record_type == object_type, history.record_id == merged)
            .values(record_id=survivor),
        )


async def _move_participants(session: AsyncSession, merged: uuid.UUID, survivor: uuid.UUID) -> None:
    """Activities the merged contact took part in name the survivor, once."""
    ids = Activity.participant_contact_ids
    with_merged = func.array_position(ids, merged).isnot(None)
    without_survivor = func.array_position(ids, survivor).is_(None)
    await _run(
        session,
        update(Activity)
        .where(with_merged, without_survivor)
        .values(participant_contact_ids=func.array_replace(ids, merged, survivor)),
    )
    await _run(
        session,
        update(Activity)
        .where(with_merged)
        .values(participant_contact_ids=func.array_remove(ids, merged)),
    )


async def move_contact(session: AsyncSession, merged: uuid.UUID, survivor: uuid.UUID) -> None:
    """Everything of a merged contact goes to the survivor (see the module docstring)."""
    links = ContactCompany
    has_links = select(links.company_id).where(links.contact_id == survivor).exists()
    if await session.scalar(select(has_links).execution_options(**EVERY_RECORD)):
        await _run(
            session, update(links).where(links.contact_id == merged).values(is_primary=False)
        )
    await _move_keyed(session, links, links.company_id, links.contact_id, merged, survivor)
    await _move_keyed(
        session, DealContact, DealContact.deal_id, DealContact.contact_id, merged, survivor
    )
    await _repoint(session, Lead.converted_contact_id, merged, survivor)
    await _move_participants(session, merged, survivor)
    await _move_shared(session, "contacts", merged, survivor)


async def move_company(session: AsyncSession, merged: uuid.UUID, survivor: uuid.UUID) -> None:
    """Everything of a merged company goes to the survivor (see the module docstring)."""
    links = ContactCompany
    primary_at_merged = select(links.contact_id).where(links.company_id == merged, links.is_primary)
    promoted = list(await session.scalars(primary_at_merged.execution_options(**EVERY_RECORD)))
    await _move_keyed(session, links, links.contact_id, links.company_id, merged, survivor)
    if promoted:
        await _run(
            session,
            update(links)
            .where(and_(links.company_id == survivor, links.contact_id.in_(promoted)))
            .values(is_primary=True),
        )
    await _repoint(session, Deal.company_id, merged, survivor)
    await _repoint(session, Lead.converted_company_id, merged, survivor)
    await _move_shared(session, "companies", merged, survivor)
