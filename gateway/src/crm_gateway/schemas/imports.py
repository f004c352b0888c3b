"""Bodies of CSV imports: the job with its progress, and the request that starts it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel
from crm_gateway.schemas.custom_fields import ObjectType

ImportState = Literal["awaiting_mapping", "queued", "running", "completed", "failed", "cancelled"]
ImportMode = Literal["create", "update", "upsert"]


class ImportJob(ApiModel):
    id: str
    object_type: ObjectType
    state: ImportState
    filename: str
    size_bytes: int
    delimiter: str = Field(description="Detected: `,`, `;` or a tab")
    columns: list[str] = Field(description="The header, each name once")
    suggested_mapping: dict[str, str] = Field(
        description="Column -> field recognised from the header (names and common synonyms)"
    )
    preview: list[list[str]] = Field(description="The first data rows as read")
    mapping: dict[str, str] = Field(description="Column -> field the job runs with")
    mode: ImportMode | None
    match_key: str | None
    rows_total: int | None = Field(description="Known once the whole file is read")
    rows_done: int
    created: int
    updated: int
    failed: int
    error: str | None
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportList(ApiModel):
    data: list[ImportJob]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class ImportStart(ApiModel):
    mapping: dict[str, str] = Field(
        description="Column header -> field: a standard field (`email`, `first_name`, "
        '`external_id`...) or `custom_fields.<key>`; columns left out (or mapped to "") '
        "are skipped",
        max_length=500,
    )
    mode: ImportMode = Field(
        default="create",
        description="create: new records only (an existing email/domain is a row error); "
        "update: matched records only; upsert: update the matched, create the rest",
    )
    match_key: str = Field(
        default="",
        max_length=200,
        description="update/upsert: `email` (contacts, leads), `domain` (companies), "
        "`external_id`, or a unique custom field `custom_fields.<key>`",
    )
