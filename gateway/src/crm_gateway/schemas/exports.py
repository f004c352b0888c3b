"""Request and response bodies of CSV exports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from crm_gateway.schemas import ApiModel
from crm_gateway.schemas.engagements import TaskStatus
from crm_gateway.schemas.records import FilterGroup, SortSpec

ExportableType = Literal["contacts", "companies", "leads", "deals", "activities", "tasks", "notes"]
ExportState = Literal["queued", "running", "completed", "failed", "expired"]


class ExportItemFilter(ApiModel):
    """The filters of the activity, task and note lists, spelled as their query strings."""

    record: str | None = Field(
        default=None,
        max_length=200,
        description="Only items attached to this record, `<record_type>:<id>`; one the "
        "caller may not see answers 404, as in the list",
        examples=["contacts:5b0c5c1e-3f7a-4c39-9d0e-2f6f1d9b6a10"],
    )
    assignee_id: str | None = Field(default=None, max_length=100, description="Tasks only")
    status: list[TaskStatus] = Field(
        default_factory=list, max_length=4, description="Tasks only: any of these"
    )
    due_before: datetime | None = Field(
        default=None, description="Tasks only: due strictly before (with an offset)"
    )
    due_after: datetime | None = Field(
        default=None, description="Tasks only: due at or after (with an offset)"
    )


class ExportCreate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"object_type": "contacts", "filter": ["custom_fields.tier:eq:gold"]},
                {
                    "object_type": "tasks",
                    "items": {
                        "status": ["open", "in_progress"],
                        "due_before": "2026-07-01T00:00:00Z",
                    },
                    "columns": ["title", "status", "due_at", "assignee_id", "records"],
                },
                {
                    "object_type": "notes",
                    "items": {"record": "contacts:5b0c5c1e-3f7a-4c39-9d0e-2f6f1d9b6a10"},
                },
            ]
        }
    )

    object_type: ExportableType
    items: ExportItemFilter | None = Field(
        default=None,
        description="Activities, tasks and notes only: their list's filters (all must "
        "hold). They take no `filter`, `filter_groups`, `sorts` or `query`, and record "
        "types take no `items` (422 naming the field)",
    )
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
        description="Records: field names as filters spell them (`email`, "
        "`custom_fields.tier`; deals also `amount`), in file order. Default: every "
        "standard field, then every custom field. Headers are these names; a currency "
        "custom field adds `<name>.currency`. Activities, tasks and notes: their fixed "
        "columns (the API's field names, `records` as `contacts:<id>; deals:<id>`), all "
        "by default",
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
