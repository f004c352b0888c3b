"""Small typed factories for pipeline tests."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import Pipeline
from crm_core.pipelines import service as pipelines
from crm_core.pipelines.schemas import PipelineCreate, StageInput
from crm_kit.db.session import unit_of_work

STAGES = (
    ("Lead in", 10, "open"),
    ("Proposal", 50, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
)


async def create_pipeline(
    factory: async_sessionmaker[AsyncSession],
    *,
    tenant: uuid.UUID,
    name: str = "Enterprise",
    stages: tuple[tuple[str, int, str], ...] = STAGES,
) -> Pipeline:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await pipelines.create(
            session,
            data=PipelineCreate(name=name, stages=[StageInput(n, p, k) for n, p, k in stages]),
        )


async def create_default_pipeline(
    factory: async_sessionmaker[AsyncSession], *, tenant: uuid.UUID
) -> Pipeline:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        created = await pipelines.create_default_pipeline(session)
    assert created is not None
    return created
