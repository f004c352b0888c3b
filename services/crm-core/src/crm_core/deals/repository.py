"""Every query on deals, their contacts and their stage history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Contact, Deal, DealContact, DealStageHistory


class DealRepository:
    async def get(self, session: AsyncSession, deal_id: uuid.UUID) -> Deal | None:
        return await session.scalar(select(Deal).where(Deal.id == deal_id))

    async def ids_in_stage(self, session: AsyncSession, stage_id: uuid.UUID) -> list[uuid.UUID]:
        query = select(Deal.id).where(Deal.stage_id == stage_id).order_by(Deal.id)
        return list(await session.scalars(query))

    async def contact_ids_of(
        self, session: AsyncSession, deal_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        query = (
            select(DealContact.deal_id, DealContact.contact_id)
            .where(DealContact.deal_id.in_(deal_ids))
            .order_by(DealContact.deal_id, DealContact.contact_id)
        )
        links: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in deal_ids}
        for deal_id, contact_id in (await session.execute(query)).all():
            links[deal_id].append(contact_id)
        return links

    async def existing_contact_ids(
        self, session: AsyncSession, contact_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        return set(await session.scalars(select(Contact.id).where(Contact.id.in_(contact_ids))))

    async def replace_contacts(
        self, session: AsyncSession, *, deal_id: uuid.UUID, contact_ids: Sequence[uuid.UUID]
    ) -> None:
        await session.execute(
            delete(DealContact)
            .where(DealContact.deal_id == deal_id)
            .execution_options(synchronize_session=False)
        )
        for contact_id in contact_ids:
            session.add(DealContact(deal_id=deal_id, contact_id=contact_id))
        await session.flush()

    async def history(self, session: AsyncSession, deal_id: uuid.UUID) -> list[DealStageHistory]:
        query = (
            select(DealStageHistory)
            .where(DealStageHistory.deal_id == deal_id)
            .order_by(DealStageHistory.moved_at, DealStageHistory.id)
        )
        return list(await session.scalars(query))


deal_repository = DealRepository()
