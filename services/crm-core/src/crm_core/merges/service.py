"""Merge a duplicate contact or company into a survivor, in one transaction.

Everything of the merged record moves (merges.relations), the survivor's empty fields
take the merged record's values (standard and custom; an external_id too: the survivor
keeps its own, or takes the merged one's), the merged record is deleted and leaves a
pointer (`record_merges`), and `crm_core.<type>.merged` is published.
Afterwards the merged id answers NotFound with code `merged` (`pointer` says where).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import crm_core_pb2 as events
from crm_core.companies import service as companies
from crm_core.contacts import service as contacts
from crm_core.events import outbox
from crm_core.merges import relations
from crm_core.merges.repository import merge_repository
from crm_core.models import RecordMerge
from crm_core.records.registry import COMPANIES, CONTACTS, OBJECT_TYPES, ObjectSpec
from crm_kit.context import current_context
from crm_kit.db.models import utcnow
from crm_kit.errors import Conflict, InvalidArgument, NotFound

EMPTY: tuple[Any, ...] = (None, "", [], {})


async def _contact_event(
    session: AsyncSession, survivor: Any, merged_id: uuid.UUID, filled: list[str]
) -> Message:
    snapshot = await contacts._snapshot(session, survivor)
    return events.ContactMerged(survivor=snapshot, merged_id=str(merged_id), filled_fields=filled)


async def _company_event(
    session: AsyncSession, survivor: Any, merged_id: uuid.UUID, filled: list[str]
) -> Message:
    snapshot = companies._snapshot(survivor)
    return events.CompanyMerged(survivor=snapshot, merged_id=str(merged_id), filled_fields=filled)


@dataclass(frozen=True)
class MergeKind:
    spec: ObjectSpec
    label: str
    # Standard fields the survivor takes when its own is empty (phone_e164 goes with phone).
    fields: tuple[str, ...]
    move: Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[None]]
    event: Callable[[AsyncSession, Any, uuid.UUID, list[str]], Awaitable[Message]]


KINDS = {
    "contacts": MergeKind(
        CONTACTS,
        "contact",
        ("first_name", "last_name", "email", "phone", "owner_id", "external_id"),
        relations.move_contact,
        _contact_event,
    ),
    "companies": MergeKind(
        COMPANIES,
        "company",
        ("name", "domain", "industry", "owner_id", "external_id"),
        relations.move_company,
        _company_event,
    ),
}


@dataclass(frozen=True)
class MergeResult:
    survivor: Any
    filled_fields: list[str]


def _kind(object_type: str) -> MergeKind:
    kind = KINDS.get(object_type)
    if kind is None:
        raise InvalidArgument(
            "only contacts and companies merge", code="merge_not_supported", field="object_type"
        )
    return kind


async def pointer(session: AsyncSession, *, object_type: str, record_id: uuid.UUID) -> RecordMerge:
    """Where a merged record went; NotFound when the id was never merged."""
    found = await merge_repository.pointer(session, object_type=object_type, record_id=record_id)
    if found is None:
        raise NotFound("this record was not merged", code="merge_pointer_not_found")
    return found


async def _refuse_merged(session: AsyncSession, kind: MergeKind, ids: dict[str, uuid.UUID]) -> None:
    for field, record_id in ids.items():
        if await merge_repository.pointer(session, object_type=kind.spec.name, record_id=record_id):
            raise Conflict(
                f"{field}: this {kind.label} was already merged into another",
                code="already_merged",
                field=field,
            )


async def _missing(
    session: AsyncSession, kind: MergeKind, field: str, record_id: uuid.UUID
) -> None:
    for other in OBJECT_TYPES.values():
        if other is not kind.spec and await merge_repository.exists_as(session, other, record_id):
            raise InvalidArgument(
                f"{field} is a record of {other.name}, not a {kind.label}: only records of "
                "one type merge",
                code="object_type_mismatch",
                field=field,
            )
    raise NotFound(f"{field}: {kind.label} not found", code=f"{kind.label}_not_found")


def _fill(kind: MergeKind, survivor: Any, merged: Any) -> list[str]:
    """Copies the merged record's values into the survivor's empty fields."""
    filled = []
    for name in kind.fields:
        if getattr(survivor, name) in EMPTY and getattr(merged, name) not in EMPTY:
            setattr(survivor, name, getattr(merged, name))
            filled.append(name)
    if "phone" in filled:
        survivor.phone_e164 = merged.phone_e164
    custom = dict(survivor.custom_fields)
    for key, value in sorted(merged.custom_fields.items()):
        if custom.get(key) in EMPTY and value not in EMPTY:
            custom[key] = value
            filled.append(f"custom_fields.{key}")
    if custom != survivor.custom_fields:
        survivor.custom_fields = custom
    return filled


async def _locked_pair(
    session: AsyncSession, kind: MergeKind, survivor_id: uuid.UUID, merged_id: uuid.UUID
) -> tuple[Any, Any]:
    found = await merge_repository.locked(session, kind.spec, [survivor_id, merged_id])
    for field, record_id in (("survivor_id", survivor_id), ("merged_id", merged_id)):
        if record_id not in found:
            await _missing(session, kind, field, record_id)
    return found[survivor_id], found[merged_id]


async def merge(
    session: AsyncSession, *, object_type: str, survivor_id: uuid.UUID, merged_id: uuid.UUID
) -> MergeResult:
    """Merges `merged_id` into `survivor_id` (same type), leaving a pointer behind."""
    kind = _kind(object_type)
    if survivor_id == merged_id:
        raise InvalidArgument(
            "a record cannot be merged into itself", code="merge_into_itself", field="merged_id"
        )
    await _refuse_merged(session, kind, {"merged_id": merged_id, "survivor_id": survivor_id})
    survivor, merged = await _locked_pair(session, kind, survivor_id, merged_id)
    await kind.move(session, merged.id, survivor.id)
    await session.refresh(survivor)  # the moves may have rewritten its relation values
    # The merged record goes first: a survivor without an external_id takes the merged
    # one's, which the unique index allows only once the merged row no longer holds it.
    await session.delete(merged)
    await session.flush()
    filled = _fill(kind, survivor, merged)
    actor = current_context().user_id
    if filled:
        survivor.updated_by, survivor.updated_at = actor, utcnow()
        await session.flush()
    await merge_repository.add_pointer(
        session,
        RecordMerge(
            object_type=kind.spec.name,
            merged_id=merged.id,
            survivor_id=survivor.id,
            merged_at=utcnow(),
            merged_by=actor,
        ),
    )
    outbox.add(
        session,
        event_type=f"crm_core.{kind.label}.merged",
        tenant_id=survivor.tenant_id,
        payload=await kind.event(session, survivor, merged.id, filled),
    )
    return MergeResult(survivor, filled)
