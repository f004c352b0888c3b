"""Every query on pipelines and stages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crm_core.models import Deal, Pipeline, Stage


@dataclass(frozen=True)
class StageTotal:
    """One (stage, currency) group of a pipeline's deals."""

    stage_id: uuid.UUID
    currency: str
    count: int
    amount_minor: int


class PipelineRepository:
    async def list_with_stages(self, session: AsyncSession) -> list[Pipeline]:
        query = (
            select(Pipeline)
            .options(selectinload(Pipeline.stages))
            .order_by(Pipeline.is_default.desc(), Pipeline.created_at, Pipeline.id)
        )
        return list(await session.scalars(query))

    async def get_with_stages(
        self, session: AsyncSession, pipeline_id: uuid.UUID, *, for_update: bool = False
    ) -> Pipeline | None:
        query = (
            select(Pipeline)
            .options(selectinload(Pipeline.stages))
            .where(Pipeline.id == pipeline_id)
            .execution_options(populate_existing=True)
        )
        if for_update:
            # Structure changes of one pipeline (reorder, add, remove) take turns.
            query = query.with_for_update(of=Pipeline)
        return await session.scalar(query)

    async def default(self, session: AsyncSession) -> Pipeline | None:
        query = select(Pipeline).options(selectinload(Pipeline.stages)).where(Pipeline.is_default)
        return await session.scalar(query)

    async def has_default(self, session: AsyncSession) -> bool:
        return (await session.scalar(select(Pipeline.id).where(Pipeline.is_default))) is not None

    async def stage(self, session: AsyncSession, stage_id: uuid.UUID) -> Stage | None:
        return await session.scalar(select(Stage).where(Stage.id == stage_id))

    async def deal_count(
        self, session: AsyncSession, *, pipeline_id: uuid.UUID, stage_id: uuid.UUID | None = None
    ) -> int:
        query = select(func.count()).select_from(Deal).where(Deal.pipeline_id == pipeline_id)
        if stage_id is not None:
            query = query.where(Deal.stage_id == stage_id)
        return int(await session.scalar(query) or 0)

    async def stage_totals(self, session: AsyncSession, pipeline_id: uuid.UUID) -> list[StageTotal]:
        """Deals per stage and currency: one GROUP BY, whatever the number of deals."""
        query = (
            select(Deal.stage_id, Deal.currency, func.count(), func.sum(Deal.amount_minor))
            .where(Deal.pipeline_id == pipeline_id)
            .group_by(Deal.stage_id, Deal.currency)
            .order_by(Deal.stage_id, Deal.currency)
        )
        return [
            StageTotal(stage_id, currency, int(count), int(total))
            for stage_id, currency, count, total in (await session.execute(query)).all()
        ]


pipeline_repository = PipelineRepository()
