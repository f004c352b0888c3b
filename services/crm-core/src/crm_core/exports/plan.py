"""What an export writes: its columns and its statement, for a record type or an item
type. Decided when the export is requested (which checks it) and again by the worker
(which reads the rules in force then), by the same function.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.exports.columns import (
    ExportColumn,
    default_column_names,
    export_columns,
    pick_columns,
)
from crm_core.exports.items import ITEM_EXPORTS, build_item_select, check_item_selection
from crm_core.exports.query import ExportSelection, build_select
from crm_core.permissions.visibility import Audience
from crm_core.queries.fields import load_catalog
from crm_core.records.registry import OBJECT_TYPES, object_spec
from crm_core.timeline.record_refs import require_record
from crm_kit.errors import InvalidArgument

EXPORTABLE_TYPES = (*OBJECT_TYPES, *ITEM_EXPORTS)


@dataclass(frozen=True)
class ExportPlan:
    names: list[str]  # the columns asked for (every one when none was)
    columns: list[ExportColumn]
    statement: Select[Any]


async def plan_export(
    session: AsyncSession,
    *,
    object_type: str,
    selection: ExportSelection,
    names: list[str],
    audience: Audience,
    tenant: uuid.UUID,
) -> ExportPlan:
    """The checked plan: an unknown type, column, filter or sort is InvalidArgument."""
    if object_type not in EXPORTABLE_TYPES:
        raise InvalidArgument(
            f"unknown object type {object_type!r}; known: {', '.join(EXPORTABLE_TYPES)}",
            code="unknown_object_type",
            field="object_type",
        )
    planner = _item_plan if object_type in ITEM_EXPORTS else _record_plan
    return await planner(
        session,
        object_type=object_type,
        selection=selection,
        names=names,
        audience=audience,
        tenant=tenant,
    )


async def _record_plan(
    session: AsyncSession,
    *,
    object_type: str,
    selection: ExportSelection,
    names: list[str],
    audience: Audience,
    tenant: uuid.UUID,
) -> ExportPlan:
    if selection.items is not None:
        raise InvalidArgument(
            "items filters activities, tasks and notes; records take filter groups",
            code="invalid_filter",
            field="items",
        )
    spec = object_spec(object_type)
    catalog = await load_catalog(session, spec)
    definitions = catalog.definitions.get(spec.name, {})
    names = names or default_column_names(spec, definitions)
    columns = export_columns(spec, definitions, names)
    statement = build_select(
        catalog, columns=columns, selection=selection, audience=audience, tenant=tenant
    )
    return ExportPlan(names, columns, statement)


async def _item_plan(
    session: AsyncSession,
    *,
    object_type: str,
    selection: ExportSelection,
    names: list[str],
    audience: Audience,
    tenant: uuid.UUID,
) -> ExportPlan:
    export = ITEM_EXPORTS[object_type]
    filters = check_item_selection(export, selection)
    if filters.record is not None:
        # As the list: an unknown record (under the caller's session, one it may not
        # see) is 404; the worker's statement checks visibility again when it runs.
        await require_record(session, filters.record)
    names = names or list(export.columns)
    columns = pick_columns(export.renderers, names)
    statement = build_item_select(
        export, columns=columns, filters=filters, audience=audience, tenant=tenant
    )
    return ExportPlan(names, columns, statement)
