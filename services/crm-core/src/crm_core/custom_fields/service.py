"""Custom field definition use cases. Each takes the tenant-bound session, flushes, never commits.

The change rule (documented in the README): label, position, required and the default
change freely; adding select options is always allowed, removing one that a record
uses is refused; a type changes only where every stored value stays valid
(`COMPATIBLE_CHANGES`); `is_unique` turns on only when no two records share a value.
Deleting a definition removes its key from every record of the object type.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from crm.events.v1 import crm_core_pb2 as events
from crm_core.custom_fields.field_types import (
    COMPATIBLE_CHANGES,
    SELECT_TYPES,
    FieldType,
    parse_field_type,
)
from crm_core.custom_fields.repository import custom_field_repository
from crm_core.custom_fields.schemas import (
    LABEL_MAX,
    UNSET,
    CustomFieldCreate,
    CustomFieldUpdate,
    check_default,
    check_unique_capable,
    clean_options,
)
from crm_core.events import outbox
from crm_core.models import CustomFieldDefinition
from crm_core.records.registry import object_spec
from crm_kit.context import current_context
from crm_kit.db.models import new_id
from crm_kit.db.session import session_tenant
from crm_kit.errors import Conflict, InvalidArgument, NotFound, StaleVersion
from crm_kit.validation import clean_text


def _snapshot(definition: CustomFieldDefinition) -> events.CustomFieldSnapshot:
    return events.CustomFieldSnapshot(
        id=str(definition.id),
        tenant_id=str(definition.tenant_id),
        object_type=definition.object_type,
        key=definition.key,
        label=definition.label,
        field_type=definition.field_type,
        required=definition.required,
        is_unique=definition.is_unique,
        version=definition.version,
    )


async def create(session: AsyncSession, *, data: CustomFieldCreate) -> CustomFieldDefinition:
    columns = data.cleaned()
    if await custom_field_repository.key_exists(
        session, object_type=columns["object_type"], key=columns["key"]
    ):
        raise Conflict(
            f"{data.object_type} already has a custom field {data.key!r}",
            code="custom_field_key_taken",
            field="key",
        )
    actor = current_context().user_id
    definition = CustomFieldDefinition(
        id=new_id(),
        tenant_id=session_tenant(session),
        created_by=actor,
        updated_by=actor,
        **columns,
    )
    session.add(definition)
    await session.flush()
    outbox.add(
        session,
        event_type="crm_core.custom_field.created",
        tenant_id=definition.tenant_id,
        payload=events.CustomFieldCreated(custom_field=_snapshot(definition)),
    )
    return definition


async def list_for(session: AsyncSession, *, object_type: str) -> list[CustomFieldDefinition]:
    return await custom_field_repository.list_for(session, object_spec(object_type).name)


async def get(
    session: AsyncSession, *, object_type: str, definition_id: uuid.UUID
) -> CustomFieldDefinition:
    definition = await custom_field_repository.get(
        session, object_type=object_spec(object_type).name, definition_id=definition_id
    )
    if definition is None:
        raise NotFound("custom field not found", code="custom_field_not_found")
    return definition


def _checked_type(definition: CustomFieldDefinition, requested: str | None) -> FieldType:
    current = FieldType(definition.field_type)
    if requested is None or requested == current:
        return current
    target = parse_field_type(requested)
    if target not in COMPATIBLE_CHANGES.get(current, frozenset()):
        raise InvalidArgument(
            f"a {current} field cannot become {target}: create a new field instead",
            code="incompatible_type_change",
            field="field_type",
        )
    return target


async def _checked_options(
    session: AsyncSession,
    definition: CustomFieldDefinition,
    field_type: FieldType,
    requested: list[Any] | None,
) -> list[dict[str, str]]:
    if field_type not in SELECT_TYPES:
        return []
    if requested is None:
        return definition.options
    options = clean_options(field_type, requested)
    spec = object_spec(definition.object_type)
    kept = {o["value"] for o in options}
    for removed in [o["value"] for o in definition.options if o["value"] not in kept]:
        probe: Any = [removed] if field_type is FieldType.MULTI_SELECT else removed
        if await custom_field_repository.records_containing(
            session, spec, key=definition.key, value=probe
        ):
            raise Conflict(
                f"option {removed!r} is in use by records and cannot be removed",
                code="option_in_use",
                field="options",
            )
    return options


async def _checked_unique(
    session: AsyncSession, definition: CustomFieldDefinition, field_type: FieldType, wanted: bool
) -> bool:
    check_unique_capable(field_type, wanted)
    if wanted and not definition.is_unique:
        spec = object_spec(definition.object_type)
        await custom_field_repository.lock_definition(session, definition.id)
        if await custom_field_repository.has_duplicate_values(session, spec, definition.key):
            raise Conflict(
                "records already share values of this field; it cannot become unique",
                code="values_not_unique",
                field="is_unique",
            )
    return wanted


async def _new_columns(
    session: AsyncSession, definition: CustomFieldDefinition, data: CustomFieldUpdate
) -> dict[str, Any]:
    field_type = _checked_type(definition, data.field_type)
    options = await _checked_options(session, definition, field_type, data.options)
    unique = await _checked_unique(
        session,
        definition,
        field_type,
        definition.is_unique if data.is_unique is None else data.is_unique,
    )
    default = definition.default_value if data.default_value is UNSET else data.default_value
    columns: dict[str, Any] = {
        "field_type": field_type.value,
        "options": options,
        "is_unique": unique,
        "default_value": check_default(field_type, options, default, is_unique=unique),
    }
    if data.label is not None:
        columns["label"] = clean_text(
            data.label, field="label", max_length=LABEL_MAX, required=True
        )
    if data.required is not None:
        columns["required"] = data.required
    if data.position is not None:
        columns["position"] = data.position
    return columns


async def update(
    session: AsyncSession, *, object_type: str, definition_id: uuid.UUID, data: CustomFieldUpdate
) -> CustomFieldDefinition:
    definition = await get(session, object_type=object_type, definition_id=definition_id)
    if data.expected_version is not None and data.expected_version != definition.version:
        raise StaleVersion(
            "the custom field changed since it was read",
            code="version_mismatch",
            version=definition.version,
        )
    columns = await _new_columns(session, definition, data)
    changed = sorted(k for k, v in columns.items() if getattr(definition, k) != v)
    if not changed:
        return definition
    for name in changed:
        setattr(definition, name, columns[name])
    definition.updated_by = current_context().user_id
    try:
        await session.flush()
    except StaleDataError as exc:
        raise StaleVersion(
            "the custom field changed concurrently", code="version_mismatch"
        ) from exc
    outbox.add(
        session,
        event_type="crm_core.custom_field.updated",
        tenant_id=definition.tenant_id,
        payload=events.CustomFieldUpdated(
            custom_field=_snapshot(definition), changed_fields=changed
        ),
    )
    return definition


async def delete(session: AsyncSession, *, object_type: str, definition_id: uuid.UUID) -> None:
    """Deletes the definition and removes its key from every record of the type."""
    definition = await get(session, object_type=object_type, definition_id=definition_id)
    await custom_field_repository.remove_key(
        session, object_spec(definition.object_type), definition.key
    )
    await session.delete(definition)
    await session.flush()
    outbox.add(
        session,
        event_type="crm_core.custom_field.deleted",
        tenant_id=definition.tenant_id,
        payload=events.CustomFieldDeleted(
            custom_field_id=str(definition.id),
            object_type=definition.object_type,
            key=definition.key,
        ),
    )
