"""Pipeline use cases."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import crm_core_pb2 as events
from crm_core.events import outbox
from crm_core.models import Pipeline, Stage
from crm_core.pipelines.repository import pipeline_repository
from crm_kit.db.models import new_id
from crm_kit.db.session import session_tenant

DEFAULT_PIPELINE_NAME = "Sales"
# (name, win probability in percent), in order.
DEFAULT_STAGES = (
    ("Qualification", 10),
    ("Needs analysis", 25),
    ("Proposal", 50),
    ("Negotiation", 75),
    ("Closed won", 100),
    ("Closed lost", 0),
)


async def create_default_pipeline(session: AsyncSession) -> Pipeline | None:
    """The tenant's first pipeline; None if it already has one (safe to repeat)."""
    tenant = session_tenant(session)
    if await pipeline_repository.has_default(session):
        return None
    pipeline = Pipeline(id=new_id(), tenant_id=tenant, name=DEFAULT_PIPELINE_NAME, is_default=True)
    session.add(pipeline)
    await session.flush()
    for position, (name, probability) in enumerate(DEFAULT_STAGES):
        session.add(
            Stage(
                id=new_id(),
                tenant_id=tenant,
                pipeline_id=pipeline.id,
                name=name,
                position=position,
                probability=probability,
            )
        )
    await session.flush()
    outbox.add(
        session,
        event_type="crm_core.pipeline.created",
        tenant_id=tenant,
        payload=events.PipelineCreated(
            pipeline_id=str(pipeline.id),
            name=pipeline.name,
            stage_names=[name for name, _ in DEFAULT_STAGES],
        ),
    )
    return pipeline


async def list_pipelines(session: AsyncSession) -> list[Pipeline]:
    return await pipeline_repository.list_with_stages(session)
