"""The custom values a record is written with: typed, required, defaulted, unique, linked.

Every record write (create or update of any object type) passes its custom values
here, so the rules hold whatever the object and the transport.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.custom_fields.field_types import FieldType, value_cleaner
from crm_core.custom_fields.repository import custom_field_repository
from crm_core.models import CustomFieldDefinition
from crm_core.records.registry import ObjectSpec, object_spec
from crm_kit.errors import Conflict, InvalidArgument


def field_name(key: str) -> str:
    return f"custom_fields.{key}"


@dataclass(frozen=True)
class RecordWrite:
    """Custom values of one write: `current` as stored, `changes` as sent (None clears)."""

    spec: ObjectSpec
    current: dict[str, Any]
    changes: dict[str, Any]
    record_id: uuid.UUID
    creating: bool


def _clean(definition: CustomFieldDefinition, value: Any) -> Any:
    options = [o["value"] for o in definition.options]
    cleaner = value_cleaner(FieldType(definition.field_type), options)
    return cleaner(value, field_name(definition.key))


def _merged(write: RecordWrite, definitions: dict[str, CustomFieldDefinition]) -> dict[str, Any]:
    unknown = sorted(set(write.changes) - set(definitions))
    if unknown:
        raise InvalidArgument(
            f"unknown custom field {unknown[0]!r}",
            code="unknown_custom_field",
            field=field_name(unknown[0]),
        )
    values = dict(write.current)
    for key, value in write.changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = _clean(definitions[key], value)
    if write.creating:
        for key, definition in definitions.items():
            if key not in values and definition.default_value is not None:
                values[key] = definition.default_value
    return values


def _check_required(
    write: RecordWrite, definitions: dict[str, CustomFieldDefinition], values: dict[str, Any]
) -> None:
    # On update only the keys the write touches are checked: making a field required
    # does not make every older record unwritable.
    keys = definitions if write.creating else write.changes
    for key in keys:
        definition = definitions[key]
        if definition.required and values.get(key) in (None, "", []):
            raise InvalidArgument(
                f"{field_name(key)} is required", code="required", field=field_name(key)
            )


async def _check_relations(
    session: AsyncSession, write: RecordWrite, definitions: dict[str, CustomFieldDefinition]
) -> None:
    for key, value in write.changes.items():
        definition = definitions[key]
        if definition.field_type != FieldType.RELATION or value is None:
            continue
        target = object_spec(definition.relation_object_type or "")
        found = await session.scalar(
            select(target.id_column).where(target.id_column == uuid.UUID(str(value)))
        )
        if found is None:
            raise InvalidArgument(
                f"{field_name(key)}: no such {target.name} record",
                code="relation_not_found",
                field=field_name(key),
            )


async def _check_unique(
    session: AsyncSession,
    write: RecordWrite,
    definitions: dict[str, CustomFieldDefinition],
    values: dict[str, Any],
) -> None:
    for key, definition in sorted(definitions.items()):
        if not definition.is_unique or values.get(key) is None:
            continue
        if not write.creating and key not in write.changes:
            continue
        await custom_field_repository.lock_definition(session, definition.id)
        taken = await custom_field_repository.records_with_value(
            session, write.spec, key=key, value=values[key], exclude_id=write.record_id
        )
        if taken:
            raise Conflict(
                f"{field_name(key)} must be unique; another record has this value",
                code="custom_field_not_unique",
                field=field_name(key),
                candidates=[str(i) for i in taken],
            )


async def validated_values(session: AsyncSession, write: RecordWrite) -> dict[str, Any]:
    """The record's custom_fields after this write, or the first rule it breaks."""
    definitions = {
        d.key: d for d in await custom_field_repository.list_for(session, write.spec.name)
    }
    if not write.creating and not write.changes:
        return write.current
    values = _merged(write, definitions)
    _check_required(write, definitions, values)
    await _check_relations(session, write, definitions)
    await _check_unique(session, write, definitions, values)
    return values


async def clear_references_to(session: AsyncSession, *, target: str, record_id: uuid.UUID) -> None:
    """A deleted record leaves no relation value pointing at it."""
    for definition in await custom_field_repository.relations_to(session, target):
        await custom_field_repository.clear_references(
            session, object_spec(definition.object_type), key=definition.key, record_id=record_id
        )


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """`custom_fields.<key>` for every key whose value differs."""
    return [
        field_name(k) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)
    ]
