"""Every query on pipelines."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crm_core.models import Pipeline


class PipelineRepository:
    async def list_with_stages(self, session: AsyncSession) -> list[Pipeline]:
        query = (
            select(Pipeline)
            .options(selectinload(Pipeline.stages))
            .order_by(Pipeline.is_default.desc(), Pipeline.created_at, Pipeline.id)
        )
        return list(await session.scalars(query))

    async def has_default(self, session: AsyncSession) -> bool:
        return (await session.scalar(select(Pipeline.id).where(Pipeline.is_default))) is not None


pipeline_repository = PipelineRepository()
