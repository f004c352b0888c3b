"""Field-change history: every update of a record writes {field: [old, new]}.

One mapper hook (`before_update`) per object type reads SQLAlchemy's attribute
history, so the four services' update functions need no copy of this logic and any
ORM write of a record (PATCH, a stage move, a lead conversion) is recorded, in the
same transaction as the change. Bulk SQL updates (deleting a custom field
definition, clearing relation values of a deleted record) do not pass through the
ORM's flush and are not recorded: they are not a user's edit of that record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper

from crm_core.models import RecordChange
from crm_kit.context import current_context
from crm_kit.db.models import new_id, utcnow

if TYPE_CHECKING:
    from crm_core.records.registry import ObjectSpec

# Bookkeeping changes with every write; a deal's stage and pipeline show in the
# timeline as stage moves (deal_stage_history) rather than as field changes.
UNTRACKED = frozenset(
    {
        "id",
        "version",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
        "pipeline_id",
        "stage_id",
        "stage_entered_at",
    }
)


def json_value(value: Any) -> Any:
    """A column value as JSON: ids and times as strings, the rest as it is."""
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def _custom_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    keys = sorted(set(before) | set(after))
    return {
        f"custom_fields.{key}": [before.get(key), after.get(key)]
        for key in keys
        if before.get(key) != after.get(key)
    }


def field_changes(record: Any, tracked: Iterable[str]) -> dict[str, list[Any]]:
    """{field: [old, new]} of the record's pending changes to tracked and custom fields."""
    state = inspect(record)
    changes: dict[str, list[Any]] = {}
    for name in tracked:
        history = state.attrs[name].history
        if not history.added:
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0]
        if old != new:
            changes[name] = [json_value(old), json_value(new)]
    custom = state.attrs["custom_fields"].history
    if custom.added and custom.deleted:
        changes.update(_custom_changes(custom.deleted[0] or {}, custom.added[0] or {}))
    return changes


def _recorder(record_type: str, tracked: tuple[str, ...]) -> Any:
    def record_update(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
        changes = field_changes(target, tracked)
        if not changes:
            return
        connection.execute(
            insert(RecordChange).values(
                id=new_id(),
                tenant_id=target.tenant_id,
                record_type=record_type,
                record_id=target.id,
                changed_at=utcnow(),
                changed_by=current_context().user_id,
                changes=changes,
            )
        )

    return record_update


def track_field_changes(specs: Iterable[ObjectSpec]) -> None:
    """Records every ORM update of these object types in `record_changes`."""
    for spec in specs:
        tracked = tuple(name for name in spec.fields if name not in UNTRACKED)
        if spec.name not in _RECORDERS:
            _RECORDERS[spec.name] = _recorder(spec.name, tracked)
            event.listen(spec.model, "before_update", _RECORDERS[spec.name])


_RECORDERS: dict[str, Any] = {}
