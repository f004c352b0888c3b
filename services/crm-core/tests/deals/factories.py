"""Small typed factories for deal tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.deals import service as deals
from crm_core.deals.schemas import DealCreate
from crm_core.models import Deal
from crm_kit.db.session import unit_of_work


async def create_deal(
    factory: async_sessionmaker[AsyncSession],
    *,
    tenant: uuid.UUID,
    name: str = "Big deal",
    amount_minor: int = 100_00,
    currency: str = "EUR",
    **extra: Any,
) -> Deal:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await deals.create(
            session,
            data=DealCreate(name=name, amount_minor=amount_minor, currency=currency, **extra),
        )
