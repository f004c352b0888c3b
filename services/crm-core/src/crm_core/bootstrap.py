"""The one place that wires crm-core's parts together."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import (
    capture_pb2_grpc,
    companies_pb2_grpc,
    contacts_pb2_grpc,
    custom_fields_pb2_grpc,
    deals_pb2_grpc,
    exports_pb2_grpc,
    files_pb2_grpc,
    imports_pb2_grpc,
    leads_pb2_grpc,
    merges_pb2_grpc,
    pipelines_pb2_grpc,
    visibility_pb2_grpc,
)
from crm_core.entrypoints.capture_grpc import (
    CAPTURE_FORM_SERVICE,
    CaptureFormServicer,
)
from crm_core.entrypoints.capture_grpc import PUBLIC_METHODS as CAPTURE_PUBLIC_METHODS
from crm_core.entrypoints.consumers import build_consumer
from crm_core.entrypoints.deals_grpc import DEAL_SERVICE, DealServicer
from crm_core.entrypoints.engagements_grpc import engagement_registrations
from crm_core.entrypoints.exports_grpc import EXPORT_SERVICE, ExportServicer
from crm_core.entrypoints.exports_grpc import PUBLIC_METHODS as EXPORT_PUBLIC_METHODS
from crm_core.entrypoints.files_grpc import FILE_SERVICE, FileServicer
from crm_core.entrypoints.grpc_server import CONTACT_SERVICE, ContactServicer
from crm_core.entrypoints.imports_grpc import IMPORT_SERVICE, ImportServicer
from crm_core.entrypoints.leads_grpc import LEAD_SERVICE, LeadServicer
from crm_core.entrypoints.merges_grpc import MERGE_SERVICE, MergeServicer
from crm_core.entrypoints.pipelines_grpc import PIPELINE_SERVICE, PipelineServicer
from crm_core.entrypoints.records_grpc import (
    COMPANY_SERVICE,
    CUSTOM_FIELD_SERVICE,
    CompanyServicer,
    CustomFieldServicer,
)
from crm_core.entrypoints.visibility_grpc import VISIBILITY_SERVICE, VisibilityServicer
from crm_core.exports.worker import ExportLimits, ExportWorker
from crm_core.files.blob_cleanup import use_store
from crm_core.files.configured import build_store
from crm_core.files.service import FileLimits
from crm_core.imports.service import ImportLimits
from crm_core.imports.worker import ImportWorker
from crm_core.models import OutboxRecord
from crm_core.settings import CrmCoreSettings
from crm_kit.grpc.server import ServiceRegistration
from crm_kit.runtime import ServiceParts
from crm_kit.settings import ServiceSettings


def build(settings: ServiceSettings, factory: async_sessionmaker[AsyncSession]) -> ServiceParts:
    contacts = ContactServicer(factory)
    pipelines = PipelineServicer(factory)
    companies = CompanyServicer(factory)
    custom_fields = CustomFieldServicer(factory)
    deals = DealServicer(factory)
    leads = LeadServicer(factory)
    visibility = VisibilityServicer(factory)
    merges = MergeServicer(factory)
    core = settings if isinstance(settings, CrmCoreSettings) else CrmCoreSettings()
    store = build_store(core)
    use_store(store)
    capture = CaptureFormServicer(factory)
    files = FileServicer(factory, store, FileLimits(max_bytes=core.files_max_bytes))
    exports = ExportServicer(factory, store, timedelta(seconds=core.export_link_seconds))
    export_worker = ExportWorker(factory, store, export_limits(core))
    imports = ImportServicer(factory, store, ImportLimits(max_bytes=core.imports_max_bytes))
    import_worker = ImportWorker(factory, store, chunk_rows=core.imports_chunk_rows)
    return ServiceParts(
        registrations=[
            ServiceRegistration(
                CONTACT_SERVICE,
                lambda server: contacts_pb2_grpc.add_ContactServiceServicer_to_server(
                    contacts, server
                ),
            ),
            ServiceRegistration(
                PIPELINE_SERVICE,
                lambda server: pipelines_pb2_grpc.add_PipelineServiceServicer_to_server(
                    pipelines, server
                ),
            ),
            ServiceRegistration(
                COMPANY_SERVICE,
                lambda server: companies_pb2_grpc.add_CompanyServiceServicer_to_server(
                    companies, server
                ),
            ),
            ServiceRegistration(
                CUSTOM_FIELD_SERVICE,
                lambda server: custom_fields_pb2_grpc.add_CustomFieldServiceServicer_to_server(
                    custom_fields, server
                ),
            ),
            ServiceRegistration(
                DEAL_SERVICE,
                lambda server: deals_pb2_grpc.add_DealServiceServicer_to_server(deals, server),
            ),
            ServiceRegistration(
                LEAD_SERVICE,
                lambda server: leads_pb2_grpc.add_LeadServiceServicer_to_server(leads, server),
            ),
            ServiceRegistration(
                VISIBILITY_SERVICE,
                lambda server: visibility_pb2_grpc.add_VisibilityServiceServicer_to_server(
                    visibility, server
                ),
            ),
            ServiceRegistration(
                MERGE_SERVICE,
                lambda server: merges_pb2_grpc.add_MergeServiceServicer_to_server(merges, server),
            ),
            ServiceRegistration(
                FILE_SERVICE,
                lambda server: files_pb2_grpc.add_FileServiceServicer_to_server(files, server),
            ),
            ServiceRegistration(
                CAPTURE_FORM_SERVICE,
                lambda server: capture_pb2_grpc.add_CaptureFormServiceServicer_to_server(
                    capture, server
                ),
            ),
            ServiceRegistration(
                EXPORT_SERVICE,
                lambda server: exports_pb2_grpc.add_ExportServiceServicer_to_server(
                    exports, server
                ),
            ),
            ServiceRegistration(
                IMPORT_SERVICE,
                lambda server: imports_pb2_grpc.add_ImportServiceServicer_to_server(
                    imports, server
                ),
            ),
            *engagement_registrations(factory),
        ],
        public_methods=(*CAPTURE_PUBLIC_METHODS, *EXPORT_PUBLIC_METHODS),
        outbox_model=OutboxRecord,
        consumers=[build_consumer(factory)],
        background=[
            export_worker.run_forever,
            *([import_worker.run] if core.imports_worker else []),
        ],
    )


def export_limits(settings: CrmCoreSettings) -> ExportLimits:
    return ExportLimits(
        lease=timedelta(seconds=settings.export_lease_seconds),
        poll_seconds=settings.export_poll_seconds,
        retention=timedelta(days=settings.export_retention_days),
        max_attempts=settings.export_max_attempts,
        max_bytes=settings.export_max_bytes,
    )
