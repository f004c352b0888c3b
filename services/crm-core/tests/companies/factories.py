"""Small typed factories for company tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.companies import service as companies
from crm_core.companies.schemas import CompanyCreate
from crm_core.models import Company
from crm_kit.db.session import unit_of_work


async def create_company(
    factory: async_sessionmaker[AsyncSession],
    *,
    tenant: uuid.UUID,
    name: str = "Acme",
    domain: str = "",
    industry: str = "",
    custom_fields: dict[str, Any] | None = None,
    external_id: str = "",
) -> Company:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await companies.create(
            session,
            data=CompanyCreate(
                name=name,
                domain=domain,
                industry=industry,
                custom_fields=custom_fields or {},
                external_id=external_id,
            ),
        )
