"""Request and response bodies of CSV exports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel
from crm_gateway.schemas.records import FilterGroup, SortSpec

ExportableType = Literal["contacts", "companies", "leads", "deals"]
ExportState = Literal["queued", "running", "completed", "failed", "expired"]


class ExportCreate(ApiModel):
    object_type: ExportableType
    filter: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Filters as the list endpoints' `?filter=`, `<field>:<operator>[:<value>]` "
        "(all must hold); combined with `filter_groups`, every group must also hold these",
        examples=[["custom_fields.tier:eq:gold"]],
    )
    filter_groups: list[FilterGroup] = Field(
        default_factory=list,
        max_length=10,
        description="As in `/search`: AND within a group, OR between groups",
    )
    sorts: list[SortSpec] = Field(
        default_factory=list,
        max_length=3,
        description="As in `/search`; default created_at ascending. Ties are broken by id",
    )
    query: str = Field(
        default="",
        max_length=200,
        description="Full-text match over names, emails, phones and domains (words and substrings)",
    )
    columns: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="Field names as filters spell them (`email`, `custom_fields.tier`; "
        "deals also `amount`), in file order. Default: every standard field, then every "
        "custom field. Headers are these names; a currency custom field adds "
        "`<name>.currency`",
    )
    byte_order_mark: bool = Field(
        default=False,
        description="Start the file with a UTF-8 byte order mark, which Excel needs to "
        "read non-ASCII text correctly",
    )


class ExportError(ApiModel):
    code: str
    message: str


class Export(ApiModel):
    id: str
    object_type: ExportableType
    state: ExportState
    rows_written: int = Field(description="Rows so far while running; all rows when done")
    size_bytes: int
    columns: list[str] = Field(description="The file's header row")
    requested_by: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    file_expires_at: datetime | None = Field(description="When the file is deleted")
    download_url: str | None = Field(
        description="When completed: a link to the file that works without other "
        "credentials until `download_url_expires_at` (each read of the export gives a "
        "fresh one)"
    )
    download_url_expires_at: datetime | None
    attempts: int
    error: ExportError | None


class ExportList(ApiModel):
    data: list[Export]
    next_cursor: str | None
