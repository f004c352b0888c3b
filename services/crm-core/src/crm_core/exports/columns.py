"""An export's columns as SQL expressions that already hold the final CSV text.

PostgreSQL writes the CSV itself (`COPY ... TO STDOUT WITH CSV`), so each column is
rendered here: timestamps as ISO 8601 UTC (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), money as a
decimal string beside its currency, multi selects joined with `; `, and every cell that
holds text a user typed neutralized against spreadsheet formulas (OWASP CSV
injection): one starting with `=`, `+`, `-`, `@`, tab or carriage return gets a
leading `'`, unless the whole cell is a plain number (`-12.5`, `+4930123`), which a
spreadsheet reads as a number and never runs.

Headers are the field names filters use (`email`, `custom_fields.tier`), so they are
stable, unique and the same words the API speaks; deals add `amount` (a decimal string)
and a currency custom field `custom_fields.<key>.currency`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Numeric, Text, and_, case, cast, func, literal, not_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from crm_core.custom_fields.currencies import MINOR_UNIT_DIGITS
from crm_core.custom_fields.field_types import FieldType
from crm_core.models import CustomFieldDefinition
from crm_core.queries.fields import CUSTOM_PREFIX, custom_expression
from crm_core.records.registry import ObjectSpec, ValueKind
from crm_kit.errors import InvalidArgument

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"
ISO_UTC = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
MULTI_SEPARATOR = "; "
CURRENCY_SUFFIX = ".currency"
DEAL_AMOUNT = "amount"
MAX_COLUMNS = 200


@dataclass(frozen=True)
class ExportColumn:
    header: str
    expr: ColumnElement[Any]


# A column or an expression.
SqlValue = ColumnElement[Any] | InstrumentedAttribute[Any]
# Each column name of a type, in the default order, and how to render it.
Renderers = dict[str, Callable[[], list[ExportColumn]]]


def neutralized(text: SqlValue) -> ColumnElement[Any]:
    """The text with a `'` in front when a spreadsheet would read it as a formula."""
    # ascii() reads the first character's code without building a substring: the
    # cheapest test PostgreSQL has, and most cells fail it at once.
    triggered = and_(
        func.ascii(text).in_([literal(ord(c)) for c in FORMULA_TRIGGERS]),
        not_(text.regexp_match(PLAIN_NUMBER)),
    )
    return case((triggered, literal("'", Text()) + text), else_=text)


def iso_utc(value: SqlValue) -> ColumnElement[Any]:
    return func.to_char(func.timezone("UTC", value), ISO_UTC)


def _stored_datetime(spec: ObjectSpec, definition: CustomFieldDefinition) -> ColumnElement[Any]:
    """A datetime custom value as ISO 8601 UTC. Values are stored in UTC as Python
    writes them (`...T08:30:00+00:00`, with `.ffffff` when there is a fraction), so
    those are rewritten as text; anything else is parsed, which costs several times more."""
    text = spec.custom_fields_column[definition.key].astext
    return case(
        (text.like("____-__-__T__:__:__+00:00"), func.left(text, 19) + literal(".000000Z")),
        (text.like("____-__-__T__:__:__.______+00:00"), func.left(text, 26) + literal("Z")),
        else_=iso_utc(custom_expression(spec, definition)),
    )


def money(amount_minor: Any, currency: Any) -> ColumnElement[Any]:
    """Minor units as a decimal string in the currency's own precision (`1234.50`)."""
    digits_of = literal(MINOR_UNIT_DIGITS, JSONB()).op("->>")(currency)
    digits = func.coalesce(cast(digits_of, Integer), 2)
    return cast(
        func.round(
            cast(amount_minor, Numeric()) / func.power(literal(10, Numeric()), digits), digits
        ),
        Text(),
    )


def _standard(kind: ValueKind, column: Any) -> ColumnElement[Any]:
    if kind is ValueKind.TEXT:
        return neutralized(column)
    if kind is ValueKind.DATETIME:
        return iso_utc(column)
    return cast(column, Text())


def _multi(element: ColumnElement[Any]) -> ColumnElement[Any]:
    values = func.jsonb_array_elements_text(element).table_valued("value")
    joined = (
        select(func.string_agg(values.c.value, literal(MULTI_SEPARATOR, Text())))
        .select_from(values)
        .scalar_subquery()
    )
    return case((func.jsonb_typeof(element) == "array", neutralized(joined)), else_=None)


# Custom field types whose stored values are checked on write to be numbers, dates,
# booleans or ids: nothing a spreadsheet would run, so they go out as stored.
_UNFORMULAIC = frozenset(
    {FieldType.NUMBER, FieldType.DECIMAL, FieldType.DATE, FieldType.BOOLEAN, FieldType.RELATION}
)


def _custom(spec: ObjectSpec, definition: CustomFieldDefinition) -> list[ExportColumn]:
    header = f"{CUSTOM_PREFIX}{definition.key}"
    element = spec.custom_fields_column[definition.key]
    field_type = FieldType(definition.field_type)
    if field_type is FieldType.CURRENCY:
        currency = element["currency"].astext
        return [
            ExportColumn(header, money(custom_expression(spec, definition), currency)),
            ExportColumn(f"{header}{CURRENCY_SUFFIX}", neutralized(currency)),
        ]
    if field_type is FieldType.MULTI_SELECT:
        return [ExportColumn(header, _multi(element))]
    if field_type is FieldType.DATETIME:
        return [ExportColumn(header, _stored_datetime(spec, definition))]
    if field_type in _UNFORMULAIC:
        return [ExportColumn(header, element.astext)]
    return [ExportColumn(header, neutralized(element.astext))]


def _available(spec: ObjectSpec, definitions: dict[str, CustomFieldDefinition]) -> Renderers:
    """Every column name of the type, in the default order, and how to render it."""
    columns: Renderers = {}
    for name, field in spec.fields.items():
        columns[name] = lambda name=name, field=field: [  # type: ignore[misc]
            ExportColumn(name, _standard(field.kind, field.column))
        ]
        if name == "amount_minor" and "currency" in spec.fields:
            columns[DEAL_AMOUNT] = lambda: [
                ExportColumn(
                    DEAL_AMOUNT,
                    money(spec.fields["amount_minor"].column, spec.fields["currency"].column),
                )
            ]
    ordered = sorted(definitions.values(), key=lambda d: (d.position, d.key))
    for definition in ordered:
        columns[f"{CUSTOM_PREFIX}{definition.key}"] = lambda d=definition: _custom(spec, d)  # type: ignore[misc]
    return columns


def default_column_names(
    spec: ObjectSpec, definitions: dict[str, CustomFieldDefinition]
) -> list[str]:
    """Every standard field (deals: `amount` rather than `amount_minor`), then every
    custom field in its position."""
    names = list(_available(spec, definitions))
    if DEAL_AMOUNT in names:
        names.remove("amount_minor")
    return names


def export_columns(
    spec: ObjectSpec, definitions: dict[str, CustomFieldDefinition], names: list[str]
) -> list[ExportColumn]:
    """The columns `names` asks for, rendered; an unknown or repeated name is refused."""
    return pick_columns(_available(spec, definitions), names)


def pick_columns(available: Renderers, names: list[str]) -> list[ExportColumn]:
    """The columns of `available` that `names` asks for, in that order, rendered; an
    unknown or repeated name is refused naming it (records and items alike)."""
    if not 0 < len(names) <= MAX_COLUMNS:
        raise InvalidArgument(
            f"an export has 1..{MAX_COLUMNS} columns", code="invalid_columns", field="columns"
        )
    rendered: list[ExportColumn] = []
    for i, name in enumerate(names):
        render = available.get(name)
        if render is None:
            raise InvalidArgument(
                f"unknown column {name!r}", code="unknown_field", field=f"columns[{i}]"
            )
        if names.index(name) != i:
            raise InvalidArgument(
                f"column {name!r} is listed twice", code="invalid_columns", field=f"columns[{i}]"
            )
        rendered.extend(render())
    return rendered
