"""Search requests and custom values <-> protobuf, shared by every record servicer."""

from __future__ import annotations

import uuid
from typing import Any

from google.protobuf import json_format, struct_pb2

from crm.crm_core.v1 import records_pb2
from crm_core.queries.filters import Filter
from crm_core.queries.search import SearchParams
from crm_core.queries.sorting import Sort
from crm_kit.errors import InvalidArgument
from crm_kit.validation import optional_uuid


def _value(message: struct_pb2.Value) -> Any:
    return json_format.MessageToDict(message)


def search_from_proto(request: records_pb2.SearchRequest) -> SearchParams:
    return SearchParams(
        filter_groups=[
            [
                Filter(
                    field=f.field,
                    operator=f.operator,
                    value=_value(f.value) if f.HasField("value") else None,
                    values=[_value(v) for v in f.values],
                    has_value=f.HasField("value"),
                )
                for f in group.filters
            ]
            for group in request.filter_groups
        ],
        sorts=[Sort(s.field, s.direction or "asc") for s in request.sorts],
        query=request.query,
        limit=request.limit,
        cursor=request.cursor,
    )


def struct_to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def dict_to_struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def id_list(values: list[str], *, field: str) -> list[uuid.UUID]:
    """Ids from a request; a malformed or empty one is a clear InvalidArgument."""
    ids = [optional_uuid(v, field=field) for v in values]
    if None in ids:
        raise InvalidArgument(f"{field} must hold ids", code="invalid_uuid", field=field)
    return [i for i in ids if i is not None]
