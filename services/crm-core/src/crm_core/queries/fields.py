"""Field names as filters and sorts spell them, resolved to typed SQL expressions.

`email` is a standard column, `custom_fields.<key>` a custom field (its JSONB value
cast by the definition's type), `companies.industry` or `companies.custom_fields.<key>`
a field of a linked record.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Numeric, Uuid, case, cast, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from crm_core.custom_fields.field_types import VALUE_KINDS, FieldType
from crm_core.custom_fields.repository import custom_field_repository
from crm_core.models import CustomFieldDefinition
from crm_core.records.registry import OBJECT_TYPES, LinkSpec, ObjectSpec, ValueKind
from crm_kit.errors import InvalidArgument

CUSTOM_PREFIX = "custom_fields."
NUMERIC_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


@dataclass(frozen=True)
class ResolvedField:
    """A field's value as SQL (NULL when a record has none), and how it compares."""

    name: str
    kind: ValueKind
    expr: ColumnElement[Any]
    # The record type the expression reads, and the link that reaches it (None: the record).
    spec: ObjectSpec
    link: LinkSpec | None = None
    # The key in `spec`'s custom_fields JSONB (None: a standard field).
    custom_key: str | None = None
    # False only for a NOT NULL column, which keyset cursors can bound with an index.
    nullable: bool = True


def unknown_field(name: str, where: str) -> InvalidArgument:
    return InvalidArgument(f"unknown field {name!r}", code="unknown_field", field=where)


def _guarded(text: ColumnElement[Any], pattern: str, target: Any) -> ColumnElement[Any]:
    # Stored values are validated on write; the guard keeps a stray value from
    # turning a search into a cast error.
    return case((text.regexp_match(pattern), cast(text, target)), else_=None)


def custom_expression(spec: ObjectSpec, definition: CustomFieldDefinition) -> ColumnElement[Any]:
    """The typed SQL value of one custom field of `spec`'s records."""
    element = spec.custom_fields_column[definition.key]
    field_type = FieldType(definition.field_type)
    if field_type is FieldType.MULTI_SELECT:
        return element  # type: ignore[no-any-return]
    if field_type is FieldType.CURRENCY:
        return _guarded(element["amount_minor"].astext, NUMERIC_PATTERN, Numeric())
    text = element.astext
    kind = VALUE_KINDS[field_type]
    if kind is ValueKind.NUMBER:
        return _guarded(text, NUMERIC_PATTERN, Numeric())
    if kind is ValueKind.DATE:
        return _guarded(text, DATE_PATTERN, Date())
    if kind is ValueKind.DATETIME:
        return _guarded(text, DATETIME_PATTERN, DateTime(timezone=True))
    if kind is ValueKind.UUID:
        return _guarded(text, UUID_PATTERN, Uuid())
    if kind is ValueKind.BOOLEAN:
        return case((func.jsonb_typeof(element) == "boolean", cast(text, Boolean)), else_=None)
    return text  # type: ignore[no-any-return]


@dataclass(frozen=True)
class FieldCatalog:
    """An object type's fields, its custom fields and those of the records it links to."""

    spec: ObjectSpec
    definitions: dict[str, dict[str, CustomFieldDefinition]]

    def resolve(self, name: str, *, where: str, allow_links: bool = True) -> ResolvedField:
        head, _, rest = name.partition(".")
        link = self.spec.links.get(head) if rest else None
        if link is not None:
            if not allow_links:
                raise InvalidArgument(
                    f"{name!r}: fields of linked records cannot be used here",
                    code="unsupported_field",
                    field=where,
                )
            resolved = self._resolve_on(OBJECT_TYPES[link.target], rest, where, full_name=name)
            return dataclasses.replace(resolved, name=name, link=link)
        return self._resolve_on(self.spec, name, where, full_name=name)

    def _resolve_on(
        self, spec: ObjectSpec, name: str, where: str, *, full_name: str
    ) -> ResolvedField:
        if name.startswith(CUSTOM_PREFIX):
            definition = self.definitions.get(spec.name, {}).get(name.removeprefix(CUSTOM_PREFIX))
            if definition is None:
                raise unknown_field(full_name, where)
            kind = VALUE_KINDS[FieldType(definition.field_type)]
            value = custom_expression(spec, definition)
            return ResolvedField(full_name, kind, value, spec, custom_key=definition.key)
        standard = spec.fields.get(name)
        if standard is None or not standard.filterable:
            raise unknown_field(full_name, where)
        expr: ColumnElement[Any] = (
            cast(standard.column, Numeric())
            if standard.kind is ValueKind.NUMBER
            else standard.column.expression
        )
        nullable = getattr(standard.column.expression, "nullable", True) is not False
        return ResolvedField(full_name, standard.kind, expr, spec, nullable=nullable)


async def load_catalog(session: AsyncSession, spec: ObjectSpec) -> FieldCatalog:
    """The catalog of `spec` with the tenant's custom fields of it and its linked types."""
    names = {spec.name, *(link.target for link in spec.links.values())}
    definitions = {
        name: {d.key: d for d in await custom_field_repository.list_for(session, name)}
        for name in sorted(names)
    }
    return FieldCatalog(spec, definitions)
