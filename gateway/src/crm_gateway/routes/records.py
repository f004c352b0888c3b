"""What every record route shares: search bodies, query-string filters, custom values,
duplicates and ETags."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import grpc
from fastapi import Depends, Query, Request
from google.protobuf import json_format, struct_pb2

from crm.crm_core.v1 import records_pb2
from crm_gateway.problems import Problem, from_rpc_error, name_upstream_fields
from crm_gateway.schemas.records import SearchRequest
from crm_kit.errors import ERROR_CODE_METADATA_KEY

T = TypeVar("T")

FILTER_SYNTAX = """
Filter with repeated `filter=<field>:<operator>[:<value>]` parameters, all of which must
hold, for example `?filter=email:contains:@acme.example&filter=custom_fields.score:gte:50`.
`in`, `not_in` and `between` take comma-separated values (`?filter=first_name:in:Ada,Grace`);
`is_empty` and `is_not_empty` take none. Fields are standard fields, `custom_fields.<key>`
or fields of linked records (`companies.industry`). Operators: eq, neq, lt, lte, gt, gte,
between, in, not_in, contains, starts_with, is_empty, is_not_empty. Sort with
`sort=<field>[,<field>...]`, `-` in front for descending (`?sort=-custom_fields.score`);
ties are broken by id. `q` searches the full text. `POST .../search` takes the same as a
JSON body, with OR between filter groups.

Every record type has `external_id`, its id in another system, as a standard text field:
`?filter=external_id:eq:SF-0031` finds the record a sync knows by that id (eq is exact
and served by the unique index), `external_id:in:SF-1,SF-2` several at once, and
`external_id:is_empty` the records without one.
"""

DUPLICATE_CODES = frozenset({"duplicate_contact", "duplicate_company"})


def to_value(value: Any, *, field: str) -> struct_pb2.Value:
    """A JSON value as protobuf; a non-finite number (JSON has none) is a 422."""
    if _has_non_finite(value):
        raise Problem(
            422,
            "validation_failed",
            "the request is not valid",
            errors=[{"field": field, "message": "must be a finite number", "code": "finite"}],
        )
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return message


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def to_struct(values: dict[str, Any], *, field: str = "custom_fields") -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    for key, value in values.items():
        struct.fields[key].CopyFrom(to_value(value, field=f"{field}.{key}"))
    return struct


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def search_to_proto(body: SearchRequest) -> records_pb2.SearchRequest:
    groups = []
    for g, group in enumerate(body.filter_groups):
        filters = []
        for i, item in enumerate(group.filters):
            where = f"filter_groups.{g}.filters.{i}"
            message = records_pb2.Filter(field=item.field, operator=item.operator)
            if item.value is not None:
                message.value.CopyFrom(to_value(item.value, field=f"{where}.value"))
            for value in item.values or []:
                message.values.append(to_value(value, field=f"{where}.values"))
            filters.append(message)
        groups.append(records_pb2.FilterGroup(filters=filters))
    return records_pb2.SearchRequest(
        filter_groups=groups,
        sorts=[records_pb2.Sort(field=s.field, direction=s.direction) for s in body.sorts],
        query=body.query,
        limit=body.limit,
        cursor=body.cursor or "",
    )


def _parse_filter(raw: str) -> records_pb2.Filter:
    field, _, rest = raw.partition(":")
    operator, has_value, value = rest.partition(":")
    if not field or not operator:
        raise Problem(
            422,
            "validation_failed",
            "the request is not valid",
            errors=[
                {"field": "filter", "message": "use <field>:<operator>[:<value>]", "code": "syntax"}
            ],
        )
    message = records_pb2.Filter(field=field, operator=operator)
    if operator in ("in", "not_in", "between"):
        message.values.extend(struct_pb2.Value(string_value=v) for v in value.split(","))
    elif has_value:
        message.value.string_value = value
    return message


def query_string_search(
    *, filters: list[str], sort: str | None, q: str | None, limit: int, cursor: str | None
) -> records_pb2.SearchRequest:
    """The list endpoints' query-string form of a search (one AND group)."""
    sorts = [
        records_pb2.Sort(
            field=s.strip().lstrip("-"), direction="desc" if s.strip()[:1] == "-" else "asc"
        )
        for s in (sort or "").split(",")
        if s.strip()
    ]
    groups = (
        [records_pb2.FilterGroup(filters=[_parse_filter(f) for f in filters])] if filters else []
    )
    return records_pb2.SearchRequest(
        filter_groups=groups, sorts=sorts, query=q or "", limit=limit, cursor=cursor or ""
    )


async def refusing_duplicates(
    create: Awaitable[T], find_candidates: Callable[[], Awaitable[records_pb2.DuplicateCandidates]]
) -> T:
    """Runs a create or update; a duplicate answers 409 with the existing records' ids."""
    try:
        return await create
    except grpc.aio.AioRpcError as error:
        trailing = {k: v for k, v in (error.trailing_metadata() or ()) if isinstance(v, str)}
        if trailing.get(ERROR_CODE_METADATA_KEY) not in DUPLICATE_CODES:
            raise
        problem = from_rpc_error(error)
        problem.extra["candidates"] = list((await find_candidates()).ids)
        raise problem from error


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise Problem(412, "invalid_if_match", "If-Match must be an ETag from this API") from exc


# The query string's `filter` travels as the search's one filter group, in order (and
# `sort` as its sorts): an upstream error about them is named as the request spells it.
FILTER_FIELD_NAMES = {
    "filter_groups[0].filters": "filter",
    "filter_groups[0]": "filter",
    "filter_groups": "filter",
}
LIST_FIELD_NAMES = {**FILTER_FIELD_NAMES, "sorts": "sort"}


def list_search(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    filter: Annotated[list[str] | None, Query(max_length=20)] = None,
    sort: Annotated[str | None, Query(max_length=500)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> records_pb2.SearchRequest:
    """The list endpoints' query parameters, as one search (a FastAPI dependency)."""
    name_upstream_fields(request, LIST_FIELD_NAMES)
    return query_string_search(filters=filter or [], sort=sort, q=q, limit=limit, cursor=cursor)


ListSearch = Annotated[records_pb2.SearchRequest, Depends(list_search)]
