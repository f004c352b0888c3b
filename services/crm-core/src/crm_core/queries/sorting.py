"""Sorts and keyset cursors: any standard or custom field, ties broken by id.

A record without a value sorts as if greater than every value (last ascending, first
descending), so the order and the keyset predicate agree. The cursor is opaque:
base64 of the sort it belongs to, the last row's sort values and its id; a cursor
from another sort is refused rather than silently mis-paging.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Numeric,
    Text,
    Uuid,
    and_,
    false,
    literal,
    or_,
    tuple_,
)
from sqlalchemy.sql.elements import ColumnElement

from crm_core.queries.fields import FieldCatalog
from crm_core.records.registry import ValueKind
from crm_kit.errors import InvalidArgument

MAX_SORTS = 3
SCORE_FIELD = "_score"


@dataclass(frozen=True)
class Sort:
    field: str
    direction: str = "asc"


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool
    # None for the relevance score, which is a float rather than a field kind.
    kind: ValueKind | None
    expr: ColumnElement[Any]
    # False for a NOT NULL column: its keyset condition can bound an index scan.
    nullable: bool = True


def resolve_sorts(
    catalog: FieldCatalog, sorts: Sequence[Sort], *, score: ColumnElement[Any] | None
) -> list[SortKey]:
    if len(sorts) > MAX_SORTS:
        raise InvalidArgument(f"at most {MAX_SORTS} sorts", code="invalid_sort", field="sorts")
    keys = []
    for i, sort in enumerate(sorts):
        where = f"sorts[{i}]"
        if sort.direction not in ("asc", "desc"):
            raise InvalidArgument(
                "direction must be asc or desc", code="invalid_sort", field=f"{where}.direction"
            )
        if sort.field == SCORE_FIELD:
            if score is None:
                raise InvalidArgument(
                    "_score sorts only a search with a query", code="invalid_sort", field=where
                )
            keys.append(SortKey(SCORE_FIELD, sort.direction == "desc", None, score))
            continue
        resolved = catalog.resolve(sort.field, where=f"{where}.field", allow_links=False)
        if resolved.kind is ValueKind.MULTI:
            raise InvalidArgument(
                f"{sort.field}: multi select fields cannot be sorted",
                code="invalid_sort",
                field=f"{where}.field",
            )
        keys.append(
            SortKey(
                sort.field,
                sort.direction == "desc",
                resolved.kind,
                resolved.expr,
                resolved.nullable,
            )
        )
    return keys


def order_by(keys: Sequence[SortKey], id_column: Any) -> list[Any]:
    clauses: list[Any] = [
        key.expr.desc().nulls_first() if key.descending else key.expr.asc().nulls_last()
        for key in keys
    ]
    return [*clauses, id_column.asc()]


BIND_TYPES: dict[ValueKind | None, Any] = {
    ValueKind.TEXT: Text(),
    ValueKind.UUID: Uuid(),
    ValueKind.NUMBER: Numeric(),
    ValueKind.DATE: Date(),
    ValueKind.DATETIME: DateTime(timezone=True),
    ValueKind.BOOLEAN: Boolean(),
    None: Float(),
}


def _strictly_after(key: SortKey, value: Any) -> Any:
    if value is None:  # nulls are greatest: last ascending, first descending
        return key.expr.is_not(None) if key.descending else false()
    bound = literal(value, BIND_TYPES[key.kind])
    if key.descending:
        return key.expr < bound
    if not key.nullable:
        return key.expr > bound
    return or_(key.expr > bound, key.expr.is_(None))


def after(
    keys: Sequence[SortKey], values: Sequence[Any], id_column: Any, last_id: uuid.UUID
) -> Any:
    """Rows strictly after (values, last_id) in the order of `order_by`.

    Written so the (tenant_id, <sort columns>, id) index can bound the scan: ascending
    NOT NULL keys as one row comparison, otherwise a NOT NULL first key also gets a
    plain range condition (>= or <= its value) beside the exact one.
    """
    last = literal(last_id, Uuid())
    if all(
        not k.nullable and not k.descending and v is not None
        for k, v in zip(keys, values, strict=True)
    ):
        bounds = (literal(v, BIND_TYPES[k.kind]) for k, v in zip(keys, values, strict=True))
        return tuple_(*(k.expr for k in keys), id_column) > tuple_(*bounds, last)
    exact = _after_terms(keys, values, id_column, last)
    first, value = keys[0], values[0]
    if first.nullable or value is None:
        return exact
    bound = literal(value, BIND_TYPES[first.kind])
    return and_(first.expr <= bound if first.descending else first.expr >= bound, exact)


def _after_terms(keys: Sequence[SortKey], values: Sequence[Any], id_column: Any, last: Any) -> Any:
    terms = []
    equal_so_far: list[Any] = []
    for key, value in zip(keys, values, strict=True):
        terms.append(and_(*equal_so_far, _strictly_after(key, value)))
        bound = None if value is None else literal(value, BIND_TYPES[key.kind])
        equal_so_far.append(key.expr.is_(None) if bound is None else key.expr == bound)
    terms.append(and_(*equal_so_far, id_column > last))
    return or_(*terms)


def _signature(keys: Sequence[SortKey]) -> str:
    return ",".join(f"{k.field}:{'desc' if k.descending else 'asc'}" for k in keys)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value  # str, bool, float, None


def _decode_value(kind: ValueKind | None, raw: Any) -> Any:
    if raw is None:
        return None
    decoders: dict[ValueKind | None, Any] = {
        ValueKind.TEXT: str,
        ValueKind.UUID: uuid.UUID,
        ValueKind.NUMBER: Decimal,
        ValueKind.DATE: date.fromisoformat,
        ValueKind.DATETIME: datetime.fromisoformat,
        ValueKind.BOOLEAN: bool,
        None: float,
    }
    return decoders[kind](raw)


def encode_cursor(keys: Sequence[SortKey], values: Sequence[Any], last_id: uuid.UUID) -> str:
    payload = {"s": _signature(keys), "v": [_encode_value(v) for v in values], "id": str(last_id)}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[SortKey]) -> tuple[list[Any], uuid.UUID]:
    """The sort values and id a cursor resumes after; refuses malformed or foreign ones."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
        if payload["s"] != _signature(keys):
            raise InvalidArgument(
                "the cursor belongs to another sort", code="invalid_cursor", field="cursor"
            )
        values = [_decode_value(k.kind, v) for k, v in zip(keys, payload["v"], strict=True)]
        return values, uuid.UUID(payload["id"])
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise InvalidArgument("cursor is not valid", code="invalid_cursor", field="cursor") from exc
