"""Filter groups compiled to SQL: AND within a group, OR between groups (HubSpot's shape).

Semantics, for every field kind: a record without a value never matches eq, lt...gte,
between, in, contains or starts_with, and always matches neq and not_in. Text
`contains`/`starts_with` ignore case; `eq` does not. On a multi select, `contains`
holds when the value is among the selected ones, `in` when any of `values` is,
`not_in` when none is and `eq` when the selection is exactly `values`. A filter on a
linked record's field (`companies.industry`) holds when any linked record matches.
Operands are always bound parameters.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Numeric,
    Text,
    Uuid,
    and_,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from crm_core.custom_fields.field_types import parse_date, parse_datetime, parse_decimal
from crm_core.queries.fields import FieldCatalog, ResolvedField
from crm_core.records.registry import OBJECT_TYPES, ValueKind
from crm_kit.errors import InvalidArgument

MAX_GROUPS = 10
MAX_FILTERS_PER_GROUP = 20
MAX_VALUES = 100
TEXT_OPERAND_MAX = 1000

SCALAR_OPERATORS = frozenset({"eq", "neq", "in", "not_in", "is_empty", "is_not_empty"})
ORDERED_OPERATORS = SCALAR_OPERATORS | {"lt", "lte", "gt", "gte", "between"}
OPERATORS: dict[ValueKind, frozenset[str]] = {
    ValueKind.TEXT: ORDERED_OPERATORS | {"contains", "starts_with"},
    ValueKind.UUID: SCALAR_OPERATORS,
    ValueKind.NUMBER: ORDERED_OPERATORS,
    ValueKind.DATE: ORDERED_OPERATORS,
    ValueKind.DATETIME: ORDERED_OPERATORS,
    ValueKind.BOOLEAN: frozenset({"eq", "neq", "is_empty", "is_not_empty"}),
    ValueKind.MULTI: SCALAR_OPERATORS | {"contains"},
}
ALL_OPERATORS = frozenset().union(*OPERATORS.values())
LIST_OPERATORS = frozenset({"in", "not_in", "between"})
NO_OPERAND = frozenset({"is_empty", "is_not_empty"})
BIND_TYPES: dict[ValueKind, Any] = {
    ValueKind.TEXT: Text(),
    ValueKind.UUID: Uuid(),
    ValueKind.NUMBER: Numeric(),
    ValueKind.DATE: Date(),
    ValueKind.DATETIME: DateTime(timezone=True),
    ValueKind.BOOLEAN: Boolean(),
    ValueKind.MULTI: Text(),
}


@dataclass(frozen=True)
class Filter:
    field: str
    operator: str
    value: Any = None
    values: list[Any] = dataclasses.field(default_factory=list)
    # Whether `value` was sent at all (a JSON null is a value for no operator).
    has_value: bool = False


def _invalid(where: str, message: str, code: str = "invalid_filter") -> InvalidArgument:
    return InvalidArgument(message, code=code, field=where)


def _as_text(raw: Any, name: str) -> str:
    if not isinstance(raw, str) or len(raw) > TEXT_OPERAND_MAX or "\x00" in raw:
        raise ValueError(f"{name}: the operand must be a string")
    return raw


def _as_bool(raw: Any, name: str) -> bool:
    # Query strings carry "true"/"false" as text.
    if isinstance(raw, str) and raw in ("true", "false"):
        return raw == "true"
    if not isinstance(raw, bool):
        raise ValueError(f"{name}: the operand must be true or false")
    return raw


def _as_uuid(raw: Any, name: str) -> uuid.UUID:
    if not isinstance(raw, str):
        raise ValueError(f"{name}: the operand must be an id")
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise ValueError(f"{name}: the operand must be an id") from exc


COERCERS: dict[ValueKind, Callable[[Any, str], Any]] = {
    ValueKind.TEXT: _as_text,
    ValueKind.MULTI: _as_text,
    ValueKind.UUID: _as_uuid,
    ValueKind.NUMBER: parse_decimal,
    ValueKind.DATE: parse_date,
    ValueKind.DATETIME: parse_datetime,
    ValueKind.BOOLEAN: _as_bool,
}


def _operand(resolved: ResolvedField, raw: Any, where: str) -> Any:
    try:
        return COERCERS[resolved.kind](raw, resolved.name)
    except (ValueError, InvalidArgument) as exc:
        message = exc.message if isinstance(exc, InvalidArgument) else str(exc)
        raise _invalid(where, f"{resolved.name}: {message}", "invalid_filter_value") from exc


def _operands(resolved: ResolvedField, condition: Filter, where: str) -> list[Any]:
    op = condition.operator
    if op in NO_OPERAND:
        return []
    # A multi select's eq/neq compares the whole selection: `values`, or one `value`.
    exact_set = resolved.kind is ValueKind.MULTI and op in ("eq", "neq") and condition.values
    if op in LIST_OPERATORS or exact_set:
        count = len(condition.values)
        if (op == "between" and count != 2) or not 0 < count <= MAX_VALUES:
            wanted = "two values" if op == "between" else f"1..{MAX_VALUES} values"
            raise _invalid(where, f"{resolved.name}: {op} needs {wanted}", "invalid_filter_value")
        return [_operand(resolved, raw, where) for raw in condition.values]
    if not condition.has_value or condition.value is None:
        raise _invalid(where, f"{resolved.name}: {op} needs a value", "invalid_filter_value")
    return [_operand(resolved, condition.value, where)]


def _scalar_predicate(
    expr: ColumnElement[Any], kind: ValueKind, op: str, operands: list[Any]
) -> ColumnElement[bool]:
    bound = [literal(v, BIND_TYPES[kind]) for v in operands]
    empty = or_(expr.is_(None), expr == "") if kind is ValueKind.TEXT else expr.is_(None)
    predicates: dict[str, Callable[[], ColumnElement[bool]]] = {
        "eq": lambda: expr == bound[0],
        "neq": lambda: expr.is_distinct_from(bound[0]),
        "lt": lambda: expr < bound[0],
        "lte": lambda: expr <= bound[0],
        "gt": lambda: expr > bound[0],
        "gte": lambda: expr >= bound[0],
        "between": lambda: expr.between(bound[0], bound[1]),
        "in": lambda: expr.in_(bound),
        "not_in": lambda: or_(expr.is_(None), expr.not_in(bound)),
        "contains": lambda: expr.icontains(operands[0] if operands else "", autoescape=True),
        "starts_with": lambda: expr.istartswith(operands[0] if operands else "", autoescape=True),
        "is_empty": lambda: empty,
        "is_not_empty": lambda: not_(func.coalesce(empty, False)),
    }
    return predicates[op]()


def _multi_predicate(element: ColumnElement[Any], op: str, operands: list[Any]) -> Any:
    def has(value: str) -> ColumnElement[bool]:
        return func.coalesce(element.contains([value]), False)

    exactly = func.coalesce(and_(element.contains(operands), element.contained_by(operands)), False)
    empty = or_(element.is_(None), func.jsonb_array_length(element) == 0)
    predicates: dict[str, Callable[[], Any]] = {
        "eq": lambda: exactly,
        "neq": lambda: not_(exactly),
        "contains": lambda: has(operands[0]),
        "in": lambda: or_(*(has(v) for v in operands)),
        "not_in": lambda: not_(or_(*(has(v) for v in operands))),
        "is_empty": lambda: empty,
        "is_not_empty": lambda: not_(empty),
    }
    return predicates[op]()


def _containment(resolved: ResolvedField, op: str, operands: list[Any]) -> Any | None:
    """eq/in on a custom text or select field, and contains/in on a multi select, as
    JSONB containment of the whole custom_fields column, which its GIN index serves
    (also under row-level security: migration 0002 marks jsonb_contains LEAKPROOF).
    Same meaning as the typed expression: these values are stored as JSON strings (or
    arrays of them), and a record without the key contains nothing. None: not such a
    filter."""
    key = resolved.custom_key
    if key is None:
        return None
    column = resolved.spec.custom_fields_column
    if resolved.kind is ValueKind.TEXT and op in ("eq", "in"):
        wanted = [{key: value} for value in operands]
    elif resolved.kind is ValueKind.MULTI and op in ("contains", "in"):
        wanted = [{key: [value]} for value in operands]
    else:
        return None
    return or_(*(column.contains(literal(w, JSONB())) for w in wanted))


def _through_link(catalog: FieldCatalog, resolved: ResolvedField, predicate: Any) -> Any:
    if resolved.link is None:
        return predicate
    link = resolved.link
    target = OBJECT_TYPES[link.target]
    return exists(
        select(link.remote_key)
        .join(target.model, link.remote_key == target.id_column)
        .where(link.local_key == catalog.spec.id_column, predicate)
    )


def compile_filter(catalog: FieldCatalog, condition: Filter, where: str) -> Any:
    """One filter as a SQL predicate, or InvalidArgument naming what is wrong with it."""
    if condition.operator not in ALL_OPERATORS:
        raise _invalid(where, f"unknown operator {condition.operator!r}", "unknown_operator")
    resolved = catalog.resolve(condition.field, where=f"{where}.field")
    if condition.operator not in OPERATORS[resolved.kind]:
        raise _invalid(
            where,
            f"{resolved.name}: {condition.operator} does not apply to {resolved.kind} fields",
            "unsupported_operator",
        )
    operands = _operands(resolved, condition, where)
    predicate = _containment(resolved, condition.operator, operands)
    if predicate is None and resolved.kind is ValueKind.MULTI:
        predicate = _multi_predicate(resolved.expr, condition.operator, operands)
    elif predicate is None:
        predicate = _scalar_predicate(resolved.expr, resolved.kind, condition.operator, operands)
    return _through_link(catalog, resolved, predicate)


def compile_groups(catalog: FieldCatalog, groups: list[list[Filter]]) -> Any | None:
    """The WHERE clause of the groups (None: no filter); checks sizes before compiling."""
    if not groups:
        return None
    if len(groups) > MAX_GROUPS:
        raise _invalid("filter_groups", f"at most {MAX_GROUPS} filter groups")
    compiled = []
    for g, group in enumerate(groups):
        where = f"filter_groups[{g}]"
        if not 0 < len(group) <= MAX_FILTERS_PER_GROUP:
            raise _invalid(where, f"a filter group needs 1..{MAX_FILTERS_PER_GROUP} filters")
        compiled.append(
            and_(
                *(compile_filter(catalog, f, f"{where}.filters[{i}]") for i, f in enumerate(group))
            )
        )
    return or_(*compiled) if compiled else false()
