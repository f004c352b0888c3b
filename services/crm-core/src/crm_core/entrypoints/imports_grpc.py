"""ImportService servicer: decode, call the service, encode.

Roles: importing (upload, start, cancel) needs WRITE on the job's object type, as
creating and updating records does (members, admins, owners; API keys with
`<type>:write`); reading a job and its error report needs READ on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import imports_pb2
from crm.crm_core.v1 import imports_pb2_grpc as pb_grpc
from crm_core.files.storage import FileStore
from crm_core.imports import mappers
from crm_core.imports import service as imports
from crm_core.imports.service import ImportLimits
from crm_core.imports.targets import TARGETS, import_target
from crm_core.permissions.roles import Action, authorize
from crm_core.permissions.visibility import caller_session
from crm_kit.errors import InvalidArgument, PermissionDenied
from crm_kit.validation import resource_id

IMPORT_SERVICE = imports_pb2.DESCRIPTOR.services_by_name["ImportService"].full_name


async def _data(requests: AsyncIterator[imports_pb2.UploadImportChunk]) -> AsyncIterator[bytes]:
    async for chunk in requests:
        if chunk.WhichOneof("part") != "data":
            raise InvalidArgument("only the first message may start the upload", code="bad_chunk")
        yield chunk.data


def _readable_types() -> list[str]:
    readable = []
    for name in TARGETS:
        try:
            authorize(Action.READ, name)
        except PermissionDenied:
            continue
        readable.append(name)
    return readable


@dataclass
class ImportServicer(pb_grpc.ImportServiceServicer):
    factory: async_sessionmaker[AsyncSession]
    store: FileStore
    limits: ImportLimits

    async def UploadImport(  # noqa: N802 - gRPC method name
        self,
        request_iterator: AsyncIterator[imports_pb2.UploadImportChunk],
        context: ServicerContext,
    ) -> imports_pb2.ImportJob:
        start = mappers.upload_start(await anext(request_iterator, None))
        authorize(Action.WRITE, import_target(start.object_type).name)
        async with caller_session(self.factory) as session:
            job = await imports.upload(
                session,
                store=self.store,
                limits=self.limits,
                object_type=start.object_type,
                filename=start.filename,
                chunks=_data(request_iterator),
            )
        return mappers.to_proto(job)

    async def StartImport(  # noqa: N802
        self, request: imports_pb2.StartImportRequest, context: ServicerContext
    ) -> imports_pb2.ImportJob:
        job_id = resource_id(request.id, resource="import")
        async with caller_session(self.factory) as session:
            found = await imports.get(session, job_id=job_id)
            authorize(Action.WRITE, found.object_type)
            job = await imports.start(
                session,
                job_id=job_id,
                fields=dict(request.mapping),
                mode=request.mode,
                match_key=request.match_key,
            )
        return mappers.to_proto(job)

    async def GetImport(  # noqa: N802
        self, request: imports_pb2.ImportId, context: ServicerContext
    ) -> imports_pb2.ImportJob:
        async with caller_session(self.factory) as session:
            job = await imports.get(session, job_id=resource_id(request.id, resource="import"))
            authorize(Action.READ, job.object_type)
        return mappers.to_proto(job)

    async def ListImports(  # noqa: N802
        self, request: imports_pb2.ListImportsRequest, context: ServicerContext
    ) -> imports_pb2.ListImportsResponse:
        types = _readable_types()
        if not types:
            authorize(Action.READ, "contacts")  # raises the refusal a reader would get
        async with caller_session(self.factory) as session:
            page = await imports.list_page(
                session, limit=request.limit, cursor=request.cursor, object_types=types
            )
        return imports_pb2.ListImportsResponse(
            imports=[mappers.to_proto(j) for j in page.jobs], next_cursor=page.next_cursor
        )

    async def CancelImport(  # noqa: N802
        self, request: imports_pb2.ImportId, context: ServicerContext
    ) -> imports_pb2.ImportJob:
        job_id = resource_id(request.id, resource="import")
        async with caller_session(self.factory) as session:
            found = await imports.get(session, job_id=job_id)
            authorize(Action.WRITE, found.object_type)
            job = await imports.cancel(session, job_id=job_id)
        return mappers.to_proto(job)

    async def GetImportErrors(  # noqa: N802
        self, request: imports_pb2.ImportId, context: ServicerContext
    ) -> AsyncIterator[imports_pb2.ImportErrorsChunk]:
        async with caller_session(self.factory) as session:
            job = await imports.get(session, job_id=resource_id(request.id, resource="import"))
            authorize(Action.READ, job.object_type)
            async for data in imports.error_report(session, job=job):
                yield imports_pb2.ImportErrorsChunk(data=data)
