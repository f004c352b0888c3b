"""Small typed factories for lead tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.leads import service as leads
from crm_core.leads.schemas import LeadCreate
from crm_core.models import Lead
from crm_kit.db.session import unit_of_work


async def create_lead(
    factory: async_sessionmaker[AsyncSession],
    *,
    tenant: uuid.UUID,
    first_name: str = "Lin",
    email: str = "lin@prospect.example",
    **extra: Any,
) -> Lead:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await leads.create(
            session, data=LeadCreate(first_name=first_name, email=email, **extra)
        )
