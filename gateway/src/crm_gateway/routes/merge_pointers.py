"""A merged record's id answers 404 `merged` with a pointer to the survivor."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc
from fastapi import Request

from crm.crm_core.v1 import merges_pb2
from crm_gateway.problems import Problem
from crm_kit.errors import ERROR_CODE_METADATA_KEY

T = TypeVar("T")
MERGED = "merged"


def _code(error: grpc.aio.AioRpcError) -> str:
    trailing = {k: v for k, v in (error.trailing_metadata() or ()) if isinstance(v, str)}
    return str(trailing.get(ERROR_CODE_METADATA_KEY, ""))


async def pointing_to_survivor(
    request: Request, object_type: str, record_id: str, call: Awaitable[T]
) -> T:
    """The call's answer; for a merged id, 404 `merged` with `survivor_id` and
    `survivor_url` (where the record lives on)."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.NOT_FOUND or _code(error) != MERGED:
            raise
    pointer = await request.app.state.upstreams.merges.GetMergePointer(
        merges_pb2.GetMergePointerRequest(object_type=object_type, id=record_id)
    )
    url = f"/v1/{object_type}/{pointer.survivor_id}"
    raise Problem(
        404,
        MERGED,
        f"this record was merged into {pointer.survivor_id}",
        extra={"survivor_id": pointer.survivor_id, "survivor_url": url},
    )
