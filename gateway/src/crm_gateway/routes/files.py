"""Files on records: multipart upload streamed to crm-core in chunks, streamed download."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import File, Request, Response, Security, UploadFile
from fastapi.responses import StreamingResponse

from crm.crm_core.v1 import engagements_pb2, files_pb2
from crm_gateway.body_limits import BodyRule
from crm_gateway.routes.record_items import RECORD_TYPES
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.files import FileList, StoredFile
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import to_datetime

router = PrefixedRouter(prefix="/v1", tags=["files"])

FilesReader = Annotated[RequestContext, Security(authenticated, scopes=["files:read"])]
FilesWriter = Annotated[RequestContext, Security(authenticated, scopes=["files:write"])]

CHUNK_BYTES = 64 * 1024
# Uploads and downloads of large files outlast the default upstream deadline.
TRANSFER_TIMEOUT_SECONDS = 300.0
# The multipart framing around the file (boundaries, part headers) on top of its bytes.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
UPLOAD_PATH = re.compile(r"/v1/(?:" + "|".join(RECORD_TYPES) + r")/[^/]+/files")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._ -]")


def upload_body_rule(max_file_bytes: int) -> BodyRule:
    """The upload route takes multipart/form-data up to the file limit (and framing)."""
    return BodyRule(UPLOAD_PATH, "multipart/form-data", max_file_bytes + MULTIPART_OVERHEAD_BYTES)


def to_file(message: files_pb2.File) -> StoredFile:
    created_at: datetime = to_datetime(message.created_at)
    return StoredFile(
        id=message.id,
        record_type=message.record.record_type,
        record_id=message.record.record_id,
        filename=message.filename,
        content_type=message.content_type,
        size_bytes=message.size_bytes,
        sha256=message.sha256,
        created_by=message.created_by or None,
        created_at=created_at,
    )


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact name RFC 5987-encoded."""
    fallback = _UNSAFE_FILENAME.sub("_", filename).strip() or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def _chunks(
    record_type: str, record_id: str, upload: UploadFile
) -> AsyncIterator[files_pb2.UploadFileChunk]:
    record = engagements_pb2.RecordRef(record_type=record_type, record_id=record_id)
    start = files_pb2.UploadFileStart(record=record, filename=upload.filename or "")
    yield files_pb2.UploadFileChunk(start=start)
    while data := await upload.read(CHUNK_BYTES):
        yield files_pb2.UploadFileChunk(data=data)


def _add_record_routes(record_type: str) -> None:
    async def upload_file(
        record_id: str,
        request: Request,
        response: Response,
        caller: FilesWriter,
        file: Annotated[UploadFile, File(description="The file; its type is sniffed")],
    ) -> StoredFile:
        stored = await request.app.state.upstreams.files.UploadFile(
            _chunks(record_type, record_id, file), timeout=TRANSFER_TIMEOUT_SECONDS
        )
        response.headers["Location"] = f"/v1/files/{stored.id}"
        return to_file(stored)

    async def list_files(record_id: str, request: Request, caller: FilesReader) -> FileList:
        record = engagements_pb2.RecordRef(record_type=record_type, record_id=record_id)
        found = await request.app.state.upstreams.files.ListFiles(
            files_pb2.ListFilesRequest(record=record)
        )
        return FileList(data=[to_file(f) for f in found.files])

    path = f"/{record_type}/{{record_id}}/files"
    singular = record_type.removesuffix("s").replace("companie", "company")
    router.add_api_route(
        path,
        upload_file,
        methods=["POST"],
        status_code=201,
        summary=f"Attach a file to a {singular}",
        description="multipart/form-data with one `file` part. The content type is sniffed "
        "from the bytes (application/octet-stream when unknown), never taken from the "
        "client. A file over the limit is 413; another tenant's record is 404.",
        response_model=StoredFile,
        responses=problems(401, 403, 404, 413, 415, 422),
        operation_id=f"upload_{singular}_file",
    )
    router.add_api_route(
        path,
        list_files,
        methods=["GET"],
        summary=f"List a {singular}'s files, newest first",
        response_model=FileList,
        responses=problems(401, 403, 404, 422),
        operation_id=f"list_{singular}_files",
    )


for _record_type in RECORD_TYPES:
    _add_record_routes(_record_type)


@router.get(
    "/files/{file_id}",
    summary="Download a file",
    description="The bytes, as an attachment, with the sniffed content type.",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        },
        **problems(401, 403, 404, 422),
    },
)
async def download_file(file_id: str, request: Request, caller: FilesReader) -> StreamingResponse:
    call = request.app.state.upstreams.files.DownloadFile(
        files_pb2.FileId(id=file_id), timeout=TRANSFER_TIMEOUT_SECONDS
    )
    stream = aiter(call)
    # The first message is the metadata: an unknown file fails here, before any byte.
    first = await anext(stream)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in stream:
            yield chunk.data

    return StreamingResponse(
        body(),
        media_type=first.file.content_type,
        headers={
            "Content-Disposition": content_disposition(first.file.filename),
            "Content-Length": str(first.file.size_bytes),
        },
    )


@router.delete(
    "/files/{file_id}",
    status_code=204,
    summary="Delete a file",
    responses=problems(401, 403, 404, 422),
)
async def delete_file(file_id: str, request: Request, caller: FilesWriter) -> Response:
    await request.app.state.upstreams.files.DeleteFile(files_pb2.FileId(id=file_id))
    return Response(status_code=204)
