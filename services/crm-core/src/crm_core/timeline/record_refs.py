"""References to records of any object type, checked against the caller's tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm_core.records.registry import object_spec
from crm_kit.errors import InvalidArgument, NotFound

MAX_RECORDS_PER_ITEM = 20


@dataclass(frozen=True, order=True)
class RecordRef:
    record_type: str
    record_id: uuid.UUID


def parse_ref(record_type: str, record_id: str, *, field: str = "record") -> RecordRef:
    """A well-formed reference; an unknown type or a malformed id names `field`."""
    spec = object_spec(record_type, field_name=field)
    try:
        return RecordRef(spec.name, uuid.UUID(record_id))
    except ValueError as exc:
        raise InvalidArgument("record id is not a UUID", code="invalid_id", field=field) from exc


async def _existing(session: AsyncSession, record_type: str, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    spec = object_spec(record_type)
    found = await session.scalars(select(spec.id_column).where(spec.id_column.in_(ids)))
    return set(found)


def record_exists(ref: RecordRef) -> ColumnElement[bool]:
    """SQL that holds while the record exists; under a caller's visibility criteria,
    while the caller may see it (for statements run outside its session: exports)."""
    spec = object_spec(ref.record_type)
    return exists(select(spec.id_column).where(spec.id_column == ref.record_id))


async def require_record(session: AsyncSession, ref: RecordRef) -> None:
    """The record exists in the tenant; another tenant's is as unknown as none (404)."""
    if not await _existing(session, ref.record_type, {ref.record_id}):
        raise NotFound("record not found", code="record_not_found")


async def checked_refs(session: AsyncSession, refs: Sequence[RecordRef]) -> list[RecordRef]:
    """Unique references that all exist in the tenant (else 422 on `records`)."""
    unique = sorted(set(refs))
    if len(unique) > MAX_RECORDS_PER_ITEM:
        raise InvalidArgument(
            f"at most {MAX_RECORDS_PER_ITEM} records", code="too_many_records", field="records"
        )
    for record_type in {ref.record_type for ref in unique}:
        wanted = {ref.record_id for ref in unique if ref.record_type == record_type}
        if wanted - await _existing(session, record_type, wanted):
            # Another tenant's record is as unknown as one that never existed.
            raise InvalidArgument(
                "records names a record that does not exist",
                code="record_not_found",
                field="records",
            )
    return unique
