"""An export's SELECT: the list API's filters, sorts, visibility and tenant, compiled
once to the driver's SQL so PostgreSQL can run it under `COPY ... TO STDOUT`.

COPY does not pass through the ORM session, so its automatic tenant filter and the
caller's visibility (`permissions.visibility`) are added here as the same loader
criteria (they reach linked-record subqueries too); RLS filters the tenant as well.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.orm import with_loader_criteria

from crm_core.engagements.tasks import TaskFilter
from crm_core.exports.columns import ExportColumn
from crm_core.permissions.visibility import Audience, visibility_criteria
from crm_core.queries.fields import FieldCatalog
from crm_core.queries.filters import Filter, compile_groups
from crm_core.queries.fulltext import text_match
from crm_core.queries.search import DEFAULT_SORT
from crm_core.queries.sorting import Sort, order_by, resolve_sorts
from crm_kit.db.models import TenantOwned

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class ExportSelection:
    """Which rows an export holds and in what order, as the list API takes them:
    records by filter groups, sorts and query; items by their list's filters."""

    filter_groups: list[list[Filter]]
    sorts: list[Sort]
    query: str = ""
    items: TaskFilter | None = None


@dataclass(frozen=True)
class CompiledSelect:
    sql: str
    args: tuple[Any, ...]


def build_select(
    catalog: FieldCatalog,
    *,
    columns: list[ExportColumn],
    selection: ExportSelection,
    audience: Audience,
    tenant: uuid.UUID,
) -> Select[Any]:
    """The export's statement; filters and sorts are checked (InvalidArgument) here."""
    spec = catalog.spec
    where = compile_groups(catalog, selection.filter_groups)
    keys = resolve_sorts(catalog, selection.sorts or DEFAULT_SORT, score=None)
    statement = select(*(c.expr.label(f"c{i}") for i, c in enumerate(columns))).select_from(
        spec.model
    )
    statement = statement.where(spec.model.tenant_id == tenant)
    if where is not None:
        statement = statement.where(where)
    # Words and substrings, as a search's match (typo tolerance is for interactive use).
    match = text_match(spec, selection.query, trigram=False)
    if match is not None:
        statement = statement.where(match.predicate)
    return scoped(statement, audience=audience, tenant=tenant).order_by(
        *order_by(keys, spec.id_column)
    )


def scoped(statement: Select[Any], *, audience: Audience, tenant: uuid.UUID) -> Select[Any]:
    """The statement limited, subqueries included, to the tenant and to what the
    audience may see: what the caller's session would add to a list's query."""
    criteria: list[Any] = [
        with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id == tenant, include_aliases=True)
    ]
    if not audience.sees_all:
        criteria.extend(visibility_criteria(audience, tenant))
    return statement.options(*criteria)


def compile_select(statement: Select[Any]) -> CompiledSelect:
    """The statement as asyncpg SQL (`$1`...) and its arguments, each through its type's
    bind processing (a JSONB operand becomes its JSON text, as the engine would send)."""
    compiled = statement.compile(dialect=_DIALECT)
    if "POSTCOMPILE" in compiled.string:
        # An expanding IN list: build IN lists from literal() elements instead.
        raise RuntimeError("an export statement may not hold expanding parameters")
    params = compiled.construct_params()
    args = []
    for name in compiled.positiontup or ():
        bind_type = compiled.binds[name].type.dialect_impl(_DIALECT)
        processor = bind_type.bind_processor(_DIALECT)
        value = params[name]
        args.append(processor(value) if processor is not None else value)
    return CompiledSelect(compiled.string, tuple(args))
