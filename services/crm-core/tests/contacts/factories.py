"""Small typed factories for contact tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.contacts import service as contacts
from crm_core.contacts.schemas import ContactCreate
from crm_core.models import Contact
from crm_kit.db.session import unit_of_work


async def create_contact(
    factory: async_sessionmaker[AsyncSession],
    *,
    tenant: uuid.UUID,
    first_name: str = "Ada",
    email: str = "ada@example.com",
    **extra: Any,
) -> Contact:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await contacts.create(
            session, data=ContactCreate(first_name=first_name, email=email, **extra)
        )
