"""gRPC channels and stubs to the services, opened once per process."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from crm.crm_core.v1 import (
    capture_pb2_grpc,
    companies_pb2_grpc,
    contacts_pb2_grpc,
    custom_fields_pb2_grpc,
    deals_pb2_grpc,
    engagements_pb2_grpc,
    exports_pb2_grpc,
    files_pb2_grpc,
    imports_pb2_grpc,
    leads_pb2_grpc,
    merges_pb2_grpc,
    pipelines_pb2_grpc,
    visibility_pb2_grpc,
)
from crm.identity.v1 import api_keys_pb2_grpc, identity_pb2_grpc, mfa_pb2_grpc, users_pb2_grpc
from crm.messaging.v1 import webhooks_pb2_grpc
from crm_gateway.settings import GatewaySettings
from crm_kit.grpc.interceptors import insecure_channel


@dataclass
class Upstreams:
    channels: dict[str, grpc.aio.Channel]
    identity: identity_pb2_grpc.IdentityServiceStub
    users: users_pb2_grpc.UserServiceStub
    api_keys: api_keys_pb2_grpc.ApiKeyServiceStub
    mfa: mfa_pb2_grpc.MfaServiceStub
    contacts: contacts_pb2_grpc.ContactServiceStub
    pipelines: pipelines_pb2_grpc.PipelineServiceStub
    companies: companies_pb2_grpc.CompanyServiceStub
    custom_fields: custom_fields_pb2_grpc.CustomFieldServiceStub
    leads: leads_pb2_grpc.LeadServiceStub
    deals: deals_pb2_grpc.DealServiceStub
    merges: merges_pb2_grpc.MergeServiceStub
    visibility: visibility_pb2_grpc.VisibilityServiceStub
    activities: engagements_pb2_grpc.ActivityServiceStub
    tasks: engagements_pb2_grpc.TaskServiceStub
    notes: engagements_pb2_grpc.NoteServiceStub
    tags: engagements_pb2_grpc.TagServiceStub
    timeline: engagements_pb2_grpc.TimelineServiceStub
    files: files_pb2_grpc.FileServiceStub
    capture_forms: capture_pb2_grpc.CaptureFormServiceStub
    webhooks: webhooks_pb2_grpc.WebhookServiceStub
    exports: exports_pb2_grpc.ExportServiceStub
    imports: imports_pb2_grpc.ImportServiceStub

    @classmethod
    def connect(cls, settings: GatewaySettings) -> Upstreams:
        timeout = settings.upstream_timeout_seconds
        identity = insecure_channel(settings.identity_address, default_timeout=timeout)
        crm_core = insecure_channel(settings.crm_core_address, default_timeout=timeout)
        messaging = insecure_channel(settings.messaging_address, default_timeout=timeout)
        return cls(
            channels={"identity": identity, "crm_core": crm_core, "messaging": messaging},
            identity=identity_pb2_grpc.IdentityServiceStub(identity),
            users=users_pb2_grpc.UserServiceStub(identity),
            api_keys=api_keys_pb2_grpc.ApiKeyServiceStub(identity),
            mfa=mfa_pb2_grpc.MfaServiceStub(identity),
            contacts=contacts_pb2_grpc.ContactServiceStub(crm_core),
            pipelines=pipelines_pb2_grpc.PipelineServiceStub(crm_core),
            companies=companies_pb2_grpc.CompanyServiceStub(crm_core),
            custom_fields=custom_fields_pb2_grpc.CustomFieldServiceStub(crm_core),
            leads=leads_pb2_grpc.LeadServiceStub(crm_core),
            deals=deals_pb2_grpc.DealServiceStub(crm_core),
            merges=merges_pb2_grpc.MergeServiceStub(crm_core),
            visibility=visibility_pb2_grpc.VisibilityServiceStub(crm_core),
            activities=engagements_pb2_grpc.ActivityServiceStub(crm_core),
            tasks=engagements_pb2_grpc.TaskServiceStub(crm_core),
            notes=engagements_pb2_grpc.NoteServiceStub(crm_core),
            tags=engagements_pb2_grpc.TagServiceStub(crm_core),
            timeline=engagements_pb2_grpc.TimelineServiceStub(crm_core),
            files=files_pb2_grpc.FileServiceStub(crm_core),
            capture_forms=capture_pb2_grpc.CaptureFormServiceStub(crm_core),
            webhooks=webhooks_pb2_grpc.WebhookServiceStub(messaging),
            exports=exports_pb2_grpc.ExportServiceStub(crm_core),
            imports=imports_pb2_grpc.ImportServiceStub(crm_core),
        )

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
