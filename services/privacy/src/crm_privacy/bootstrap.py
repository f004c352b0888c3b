"""Privacy: serves gRPC health and reflection only, until its issue lands."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_kit.runtime import ServiceParts
from crm_kit.settings import ServiceSettings


def build(settings: ServiceSettings, factory: async_sessionmaker[AsyncSession]) -> ServiceParts:
    # No servicers, outbox relay or consumers yet: nothing is published or consumed.
    return ServiceParts(registrations=[])
