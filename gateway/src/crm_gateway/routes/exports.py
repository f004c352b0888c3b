"""CSV exports: queue one, follow it, download its file through a link that expires."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Query, Request, Response, Security
from fastapi.responses import StreamingResponse

from crm.crm_core.v1 import exports_pb2, records_pb2
from crm_gateway.problems import name_upstream_fields
from crm_gateway.routes.files import TRANSFER_TIMEOUT_SECONDS, content_disposition
from crm_gateway.routes.record_items import iso, record_param
from crm_gateway.routes.records import FILTER_FIELD_NAMES, query_string_search, search_to_proto
from crm_gateway.routes.responses import no_store, problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.exports import Export, ExportCreate, ExportError, ExportList
from crm_gateway.schemas.records import SearchRequest
from crm_gateway.security import authenticated, limit_by_ip
from crm_kit.context import RequestContext
from crm_kit.timestamps import optional_datetime, to_datetime

router = PrefixedRouter(prefix="/v1/exports", tags=["exports"])

# A key with read on any exportable type gets in; crm-core checks the export's own type.
EXPORT_SCOPES = (
    "contacts:read|companies:read|leads:read|deals:read|activities:read|tasks:read|notes:read"
)
Exporter = Annotated[RequestContext, Security(authenticated, scopes=[EXPORT_SCOPES])]
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def to_export(message: exports_pb2.Export) -> Export:
    url = (
        f"/v1/exports/{message.id}/download?token={message.download_token}"
        if message.download_token
        else None
    )
    return Export(
        id=message.id,
        object_type=message.object_type,
        state=message.state,
        rows_written=message.rows_written,
        size_bytes=message.size_bytes,
        columns=list(message.columns),
        requested_by=message.requested_by or None,
        created_at=to_datetime(message.created_at),
        started_at=optional_datetime(message, "started_at"),
        completed_at=optional_datetime(message, "completed_at"),
        file_expires_at=optional_datetime(message, "file_expires_at"),
        download_url=url,
        download_url_expires_at=optional_datetime(message, "download_expires_at"),
        attempts=message.attempts,
        error=ExportError(code=message.error_code, message=message.error_message)
        if message.error_code
        else None,
    )


def _search(body: ExportCreate) -> records_pb2.SearchRequest:
    """The body's filters as one search: `filter` joins every group (or is the group)."""
    search = search_to_proto(
        SearchRequest(filter_groups=body.filter_groups, sorts=body.sorts, query=body.query)
    )
    listed = query_string_search(filters=body.filter, sort=None, q=None, limit=0, cursor=None)
    if listed.filter_groups:
        common = listed.filter_groups[0].filters
        if search.filter_groups:
            for group in search.filter_groups:
                group.filters.extend(common)
        else:
            search.filter_groups.add().filters.extend(common)
    search.limit = 0
    return search


def _items(body: ExportCreate) -> exports_pb2.ItemFilter | None:
    """The body's item filters as the list's; crm-core decides which types take them."""
    if body.items is None:
        return None
    items = body.items
    message = exports_pb2.ItemFilter(
        assignee_id=items.assignee_id or "",
        statuses=items.status,
        due_before=iso(items.due_before),
        due_after=iso(items.due_after),
    )
    record = record_param(items.record, field="items.record")
    if record is not None:
        message.record.CopyFrom(record)
    return message


def _field_names(body: ExportCreate) -> dict[str, str]:
    """The body's names for the request fields crm-core names otherwise."""
    names = {"items.statuses": "items.status"}
    if body.filter and not body.filter_groups:
        names.update(FILTER_FIELD_NAMES)
    return names


@router.post(
    "",
    status_code=202,
    summary="Export records, activities, tasks or notes as CSV",
    description="Queues an export of one object type, filtered and sorted like its list, "
    "and only the rows the caller may see. Records: `filter` as the list's `?filter=`, "
    "`filter_groups`/`sorts`/`query` as `/search`. Activities, tasks and notes: `items` "
    "with their list's filters (`record`; tasks also `assignee_id`, `status`, "
    "`due_before`, `due_after`), in their list's order. Admins, owners and members may "
    "export (viewers may not); an API key needs read on the type. Follow the job at `Location`; "
    "once `completed` it carries a `download_url`. Cells a spreadsheet would run as a "
    "formula (starting `=`, `+`, `-`, `@`, tab or CR, and not a plain number) get a "
    "leading `'`; times are ISO 8601 UTC; money is a decimal beside its currency.",
    response_model=Export,
    responses=problems(401, 403, 404, 422),
)
async def create_export(
    body: ExportCreate, request: Request, response: Response, caller: Exporter
) -> Export:
    name_upstream_fields(request, _field_names(body))
    created = await request.app.state.upstreams.exports.CreateExport(
        exports_pb2.CreateExportRequest(
            object_type=body.object_type,
            search=_search(body),
            columns=body.columns,
            byte_order_mark=body.byte_order_mark,
            items=_items(body),
        )
    )
    response.headers["Location"] = f"/v1/exports/{created.id}"
    return to_export(created)


@router.get(
    "",
    summary="List exports, newest first",
    response_model=ExportList,
    responses=problems(401, 403, 422),
)
async def list_exports(
    request: Request,
    caller: Exporter,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> ExportList:
    found = await request.app.state.upstreams.exports.ListExports(
        exports_pb2.ListExportsRequest(limit=limit, cursor=cursor or "")
    )
    return ExportList(
        data=[to_export(e) for e in found.exports], next_cursor=found.next_cursor or None
    )


@router.get(
    "/{export_id}",
    summary="Get an export and, once completed, a fresh download link",
    description="`download_url` works without the bearer token (a browser can follow "
    "it) until `download_url_expires_at`, 15 minutes; each read gives a new one.",
    response_model=Export,
    responses=problems(401, 403, 404, 422),
)
async def get_export(
    export_id: str, request: Request, response: Response, caller: Exporter
) -> Export:
    no_store(response)
    found = await request.app.state.upstreams.exports.GetExport(exports_pb2.ExportId(id=export_id))
    return to_export(found)


@router.get(
    "/{export_id}/download",
    summary="Download an export's CSV file",
    description="Authorized by the link's `token` alone. An expired link is 410 "
    "`link_expired` (read the export again for a new one); a file past its retention "
    "is 410 `export_file_expired`; a wrong token is 404.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}}},
        **problems(404, 410, 422),
    },
)
async def download_export(
    export_id: str,
    request: Request,
    response: Response,
    token: Annotated[str, Query(min_length=1, max_length=200, description="From download_url")],
) -> StreamingResponse:
    await limit_by_ip(request, response)
    call = request.app.state.upstreams.exports.DownloadExport(
        exports_pb2.DownloadExportRequest(id=export_id, token=token),
        timeout=TRANSFER_TIMEOUT_SECONDS,
    )
    stream = aiter(call)
    # The first message is the export: a bad or expired link fails here, before any byte.
    first = await anext(stream)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in stream:
            yield chunk.data

    created = to_datetime(first.export.created_at).strftime("%Y-%m-%d")
    filename = f"{first.export.object_type}-{created}-{first.export.id[:8]}.csv"
    return StreamingResponse(
        body(),
        media_type=CSV_MEDIA_TYPE,
        headers={
            **response.headers,
            "Content-Disposition": content_disposition(filename),
            "Content-Length": str(first.export.size_bytes),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
