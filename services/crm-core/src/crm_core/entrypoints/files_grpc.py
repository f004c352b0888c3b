"""FileService servicer: decode the stream, call the service, encode.

Roles: reading needs READ on `files`, uploading and deleting WRITE (as for notes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import engagements_pb2, files_pb2
from crm.crm_core.v1 import files_pb2_grpc as pb_grpc
from crm_core.files import mappers
from crm_core.files import service as files
from crm_core.files.service import FileLimits
from crm_core.files.storage import FileStore
from crm_core.permissions.roles import Action, authorize
from crm_core.permissions.visibility import caller_session
from crm_kit.context import current_context
from crm_kit.errors import InvalidArgument
from crm_kit.validation import resource_id

FILE_SERVICE = files_pb2.DESCRIPTOR.services_by_name["FileService"].full_name


async def _data(requests: AsyncIterator[files_pb2.UploadFileChunk]) -> AsyncIterator[bytes]:
    async for chunk in requests:
        if chunk.WhichOneof("part") != "data":
            raise InvalidArgument("only the first message may start the upload", code="bad_chunk")
        yield chunk.data


@dataclass
class FileServicer(pb_grpc.FileServiceServicer):
    factory: async_sessionmaker[AsyncSession]
    store: FileStore
    limits: FileLimits

    async def UploadFile(  # noqa: N802 - gRPC method name
        self, request_iterator: AsyncIterator[files_pb2.UploadFileChunk], context: ServicerContext
    ) -> files_pb2.File:
        authorize(Action.WRITE, "files")
        start = mappers.upload_start(await anext(request_iterator, None))
        async with caller_session(self.factory) as session:
            stored = await files.upload(
                session,
                store=self.store,
                limits=self.limits,
                record=mappers.record_from_proto(start.record),
                filename=start.filename,
                chunks=_data(request_iterator),
                created_by=current_context().user_id,
            )
        return mappers.to_proto(stored)

    async def DownloadFile(  # noqa: N802 - gRPC method name
        self, request: files_pb2.FileId, context: ServicerContext
    ) -> AsyncIterator[files_pb2.DownloadFileChunk]:
        authorize(Action.READ, "files")
        async with caller_session(self.factory) as session:
            stored = await files.get(session, file_id=resource_id(request.id, resource="file"))
        yield files_pb2.DownloadFileChunk(file=mappers.to_proto(stored))
        async for data in files.read(self.store, stored):
            yield files_pb2.DownloadFileChunk(data=data)

    async def ListFiles(  # noqa: N802 - gRPC method name
        self, request: files_pb2.ListFilesRequest, context: ServicerContext
    ) -> files_pb2.ListFilesResponse:
        authorize(Action.READ, "files")
        async with caller_session(self.factory) as session:
            found = await files.list_for_record(
                session, record=mappers.record_from_proto(request.record)
            )
        return files_pb2.ListFilesResponse(files=[mappers.to_proto(f) for f in found])

    async def DeleteFile(  # noqa: N802 - gRPC method name
        self, request: files_pb2.FileId, context: ServicerContext
    ) -> engagements_pb2.Empty:
        authorize(Action.WRITE, "files")
        async with caller_session(self.factory) as session:
            await files.remove(session, file_id=resource_id(request.id, resource="file"))
        return engagements_pb2.Empty()
