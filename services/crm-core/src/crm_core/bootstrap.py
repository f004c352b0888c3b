"""The one place that wires crm-core's parts together."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.crm_core.v1 import contacts_pb2_grpc, pipelines_pb2_grpc
from crm_core.entrypoints.consumers import build_consumer
from crm_core.entrypoints.grpc_server import (
    CONTACT_SERVICE,
    PIPELINE_SERVICE,
    ContactServicer,
    PipelineServicer,
)
from crm_core.models import OutboxRecord
from crm_kit.grpc.server import ServiceRegistration
from crm_kit.runtime import ServiceParts
from crm_kit.settings import ServiceSettings


def build(settings: ServiceSettings, factory: async_sessionmaker[AsyncSession]) -> ServiceParts:
    contacts = ContactServicer(factory)
    pipelines = PipelineServicer(factory)
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
        ],
        outbox_model=OutboxRecord,
        consumers=[build_consumer(factory)],
    )
