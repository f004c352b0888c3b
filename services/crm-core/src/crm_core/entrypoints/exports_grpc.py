"""ExportService servicer: decode, call the export use cases, encode.

Creating and reading exports needs the export right (`authorize_export`) for the
job's object type; `DownloadExport` is public: its signed, expiring token is the
authorization, so a browser can follow the link.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from grpc.aio import ServicerContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import exports_pb2
from crm.crm_core.v1 import exports_pb2_grpc as pb_grpc
from crm_core.exports import links, mappers
from crm_core.exports import service as exports
from crm_core.exports.plan import EXPORTABLE_TYPES
from crm_core.exports.service import Requester
from crm_core.files.storage import FileStore
from crm_core.permissions.roles import authorize_export, readable_export_types
from crm_core.permissions.visibility import audience_of, caller_session
from crm_kit.context import current_context
from crm_kit.db.session import unit_of_work
from crm_kit.validation import resource_id

EXPORT_SERVICE = exports_pb2.DESCRIPTOR.services_by_name["ExportService"].full_name
PUBLIC_METHODS = (f"/{EXPORT_SERVICE}/DownloadExport",)


def _requester() -> Requester:
    ctx = current_context()
    return Requester(ctx.user_id, ctx.actor_kind, ctx.roles, audience_of(ctx))


@dataclass
class ExportServicer(pb_grpc.ExportServiceServicer):
    factory: async_sessionmaker[AsyncSession]
    store: FileStore
    link_lifetime: timedelta

    async def CreateExport(  # noqa: N802 - gRPC method name
        self, request: exports_pb2.CreateExportRequest, context: ServicerContext
    ) -> exports_pb2.Export:
        wanted = mappers.request_from_proto(request)
        authorize_export(wanted.object_type if wanted.object_type in EXPORTABLE_TYPES else None)
        async with caller_session(self.factory) as session:
            job = await exports.create(session, request=wanted, requester=_requester())
        return mappers.to_proto(job)

    async def GetExport(  # noqa: N802 - gRPC method name
        self, request: exports_pb2.ExportId, context: ServicerContext
    ) -> exports_pb2.Export:
        async with caller_session(self.factory) as session:
            job = await exports.get(
                session,
                job_id=resource_id(request.id, resource="export"),
                audience=audience_of(current_context()),
            )
        authorize_export(job.object_type)
        link = exports.download_link(job, lifetime=self.link_lifetime)
        return mappers.to_proto(job, link)

    async def ListExports(  # noqa: N802 - gRPC method name
        self, request: exports_pb2.ListExportsRequest, context: ServicerContext
    ) -> exports_pb2.ListExportsResponse:
        authorize_export(None)
        async with caller_session(self.factory) as session:
            jobs, cursor = await exports.list_page(
                session,
                limit=request.limit,
                cursor=request.cursor,
                object_types=readable_export_types(EXPORTABLE_TYPES),
                audience=audience_of(current_context()),
            )
        return exports_pb2.ListExportsResponse(
            exports=[mappers.to_proto(job) for job in jobs], next_cursor=cursor
        )

    async def DownloadExport(  # noqa: N802 - gRPC method name
        self, request: exports_pb2.DownloadExportRequest, context: ServicerContext
    ) -> AsyncIterator[exports_pb2.DownloadExportChunk]:
        job_id = resource_id(request.id, resource="export")
        tenant = links.read_claims(request.token).tenant_id
        async with unit_of_work(self.factory, tenant_id=tenant) as session:
            job = await exports.open_download(session, job_id=job_id, token=request.token)
        yield exports_pb2.DownloadExportChunk(export=mappers.to_proto(job))
        assert job.storage_key is not None  # open_download refuses a job without a file
        async for data in self.store.read(job.storage_key):
            yield exports_pb2.DownloadExportChunk(data=data)
