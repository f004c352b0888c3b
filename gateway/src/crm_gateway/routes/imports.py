"""CSV imports: upload (multipart, streamed to crm-core), map and start, follow progress,
download the error report, cancel."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import File, Form, Query, Request, Response, Security, UploadFile
from fastapi.responses import StreamingResponse

from crm.crm_core.v1 import imports_pb2
from crm_gateway.body_limits import BodyRule
from crm_gateway.routes.files import CHUNK_BYTES, MULTIPART_OVERHEAD_BYTES, TRANSFER_TIMEOUT_SECONDS
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.custom_fields import ObjectType
from crm_gateway.schemas.imports import ImportJob, ImportList, ImportStart
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import optional_datetime, to_datetime

router = PrefixedRouter(prefix="/v1/imports", tags=["imports"])

# No scope of its own: crm-core checks the job's object type (`<type>:write` to import,
# `<type>:read` to follow), as for the records themselves.
Importer = Annotated[RequestContext, Security(authenticated, scopes=[])]
UPLOAD_PATH = re.compile(r"/v1/imports")
ROLE_RULE = (
    " Members, admins and owners may import (update and upsert need a role that sees all "
    "records of the type); an API key needs `<object_type>:write`, or `:read` to follow."
)


def upload_body_rule(max_import_bytes: int) -> BodyRule:
    """The upload takes multipart/form-data up to the import limit (and framing)."""
    return BodyRule(UPLOAD_PATH, "multipart/form-data", max_import_bytes + MULTIPART_OVERHEAD_BYTES)


def to_import(message: imports_pb2.ImportJob) -> ImportJob:
    return ImportJob(
        id=message.id,
        object_type=message.object_type,
        state=message.state,
        filename=message.filename,
        size_bytes=message.size_bytes,
        delimiter=message.delimiter,
        columns=list(message.columns),
        suggested_mapping=dict(message.suggested_mapping),
        preview=[list(row.cells) for row in message.preview],
        mapping=dict(message.mapping),
        mode=message.mode or None,
        match_key=message.match_key or None,
        rows_total=message.rows_total if message.HasField("rows_total") else None,
        rows_done=message.rows_done,
        created=message.created,
        updated=message.updated,
        failed=message.failed,
        error=message.error or None,
        created_by=message.created_by or None,
        created_at=to_datetime(message.created_at),
        started_at=optional_datetime(message, "started_at"),
        finished_at=optional_datetime(message, "finished_at"),
    )


async def _chunks(
    object_type: str, upload: UploadFile
) -> AsyncIterator[imports_pb2.UploadImportChunk]:
    start = imports_pb2.UploadImportStart(object_type=object_type, filename=upload.filename or "")
    yield imports_pb2.UploadImportChunk(start=start)
    while data := await upload.read(CHUNK_BYTES):
        yield imports_pb2.UploadImportChunk(data=data)


@router.post(
    "",
    status_code=201,
    summary="Upload a CSV to import",
    description="multipart/form-data with `object_type` and one `file` part: UTF-8 (with "
    "or without BOM), comma, semicolon or tab separated, quoted fields allowed, the first "
    "row naming the columns. Answers the job in `awaiting_mapping` with the detected "
    "columns, a suggested mapping and preview rows; start it with `POST "
    "/v1/imports/{import_id}/start`. A file over the limit is 413; one that is not UTF-8 "
    "CSV is 422." + ROLE_RULE,
    response_model=ImportJob,
    responses=problems(401, 403, 413, 415, 422),
)
async def upload_import(
    request: Request,
    response: Response,
    caller: Importer,
    object_type: Annotated[ObjectType, Form(description="What the rows are")],
    file: Annotated[UploadFile, File(description="The CSV file")],
) -> ImportJob:
    job = await request.app.state.upstreams.imports.UploadImport(
        _chunks(object_type, file), timeout=TRANSFER_TIMEOUT_SECONDS
    )
    response.headers["Location"] = f"/v1/imports/{job.id}"
    return to_import(job)


@router.get(
    "",
    summary="List imports, newest first",
    description="Imports of the object types the caller may read.",
    response_model=ImportList,
    responses=problems(401, 403, 422),
)
async def list_imports(
    request: Request,
    caller: Importer,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> ImportList:
    found = await request.app.state.upstreams.imports.ListImports(
        imports_pb2.ListImportsRequest(limit=limit, cursor=cursor or "")
    )
    return ImportList(
        data=[to_import(j) for j in found.imports], next_cursor=found.next_cursor or None
    )


@router.get(
    "/{import_id}",
    summary="An import's state and progress",
    description="rows_done, created, updated and failed advance with each committed chunk.",
    response_model=ImportJob,
    responses=problems(401, 403, 404, 422),
)
async def get_import(import_id: str, request: Request, caller: Importer) -> ImportJob:
    job = await request.app.state.upstreams.imports.GetImport(imports_pb2.ImportId(id=import_id))
    return to_import(job)


@router.post(
    "/{import_id}/start",
    summary="Start an import with its column mapping",
    description="Queues the job. A bad mapping is 422 naming the problem "
    "(`mapping.<column>`, `mode`, `match_key`); a job already started is 409. Rows that "
    "name the same record are applied in file order (in update/upsert the later row's "
    "non-empty cells win; in create mode the repeat is a row error). Empty cells leave a "
    "matched record's value as it is. A bad row is reported and never stops the others."
    + ROLE_RULE,
    response_model=ImportJob,
    responses=problems(401, 403, 404, 409, 422),
)
async def start_import(
    import_id: str, body: ImportStart, request: Request, caller: Importer
) -> ImportJob:
    job = await request.app.state.upstreams.imports.StartImport(
        imports_pb2.StartImportRequest(
            id=import_id, mapping=body.mapping, mode=body.mode, match_key=body.match_key
        )
    )
    return to_import(job)


@router.post(
    "/{import_id}/cancel",
    summary="Cancel an import",
    description="Stops after the chunk being written; rows already imported stay. A job "
    "that already ended is 409.",
    response_model=ImportJob,
    responses=problems(401, 403, 404, 409, 422),
)
async def cancel_import(import_id: str, request: Request, caller: Importer) -> ImportJob:
    job = await request.app.state.upstreams.imports.CancelImport(imports_pb2.ImportId(id=import_id))
    return to_import(job)


@router.get(
    "/{import_id}/errors.csv",
    summary="Download an import's error report",
    description="CSV with one line per problem: `row` (as a spreadsheet numbers it, the "
    "header being row 1), `column` (empty for the whole row) and `reason`.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problems(401, 403, 404, 422),
    },
)
async def import_errors(import_id: str, request: Request, caller: Importer) -> StreamingResponse:
    call = request.app.state.upstreams.imports.GetImportErrors(
        imports_pb2.ImportId(id=import_id), timeout=TRANSFER_TIMEOUT_SECONDS
    )
    stream = aiter(call)
    # The first chunk (the header line) comes after the job was found and may be read.
    first = await anext(stream)

    async def body() -> AsyncIterator[bytes]:
        yield first.data
        async for chunk in stream:
            yield chunk.data

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="import-{import_id[:36]}-errors.csv"'
        },
    )
