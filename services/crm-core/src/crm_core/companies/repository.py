"""Every query on companies and on contact-company links."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Company, ContactCompany

DUPLICATE_CANDIDATES_MAX = 10


class CompanyRepository:
    async def get(self, session: AsyncSession, company_id: uuid.UUID) -> Company | None:
        return await session.scalar(select(Company).where(Company.id == company_id))

    async def with_domain(self, session: AsyncSession, domain: str) -> list[uuid.UUID]:
        query = (
            select(Company.id)
            .where(Company.domain == domain)
            .order_by(Company.created_at, Company.id)
            .limit(DUPLICATE_CANDIDATES_MAX)
        )
        return list(await session.scalars(query))

    async def existing_ids(
        self, session: AsyncSession, company_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        return set(await session.scalars(select(Company.id).where(Company.id.in_(company_ids))))

    async def contact_ids(self, session: AsyncSession, company_id: uuid.UUID) -> list[uuid.UUID]:
        query = select(ContactCompany.contact_id).where(ContactCompany.company_id == company_id)
        return sorted(await session.scalars(query))

    async def links_of(
        self, session: AsyncSession, contact_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        """Each contact's company ids, the primary first."""
        query = (
            select(ContactCompany.contact_id, ContactCompany.company_id)
            .where(ContactCompany.contact_id.in_(contact_ids))
            .order_by(
                ContactCompany.contact_id,
                ContactCompany.is_primary.desc(),
                ContactCompany.company_id,
            )
        )
        links: dict[uuid.UUID, list[uuid.UUID]] = {cid: [] for cid in contact_ids}
        for contact_id, company_id in (await session.execute(query)).all():
            links[contact_id].append(company_id)
        return links

    async def replace_links(
        self, session: AsyncSession, *, contact_id: uuid.UUID, company_ids: Sequence[uuid.UUID]
    ) -> None:
        await session.execute(
            delete(ContactCompany)
            .where(ContactCompany.contact_id == contact_id)
            .execution_options(synchronize_session=False)
        )
        for position, company_id in enumerate(company_ids):
            session.add(
                ContactCompany(
                    contact_id=contact_id, company_id=company_id, is_primary=position == 0
                )
            )
        await session.flush()


company_repository = CompanyRepository()
