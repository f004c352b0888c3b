"""Bodies of bulk writes: one operation on 1..100 items, one result per item."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from crm_gateway.schemas import ApiModel, FieldError

BULK_MAX_ITEMS = 100


class BulkRequest(ApiModel):
    operation: Literal["create", "update", "delete"]
    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=BULK_MAX_ITEMS,
        description="create: the body of a create; update: `id`, optional `version` (the "
        "record's ETag value, refused with 412 when stale) and the fields to change; "
        "delete: `id`.",
    )


class ItemProblem(BaseModel):
    """An item's error, shaped like the problem+json of the single-record route."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None


class BulkItemResult(BaseModel):
    index: int
    status: Literal["ok", "error"]
    id: str | None = None
    error: ItemProblem | None = None


class BulkResponse(BaseModel):
    results: list[BulkItemResult]
