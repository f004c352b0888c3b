"""Pipeline use cases: the default pipeline, CRUD, stages and their order.

A stage that holds deals is removed only when its deals move to another stage of the
pipeline (each move is recorded like any other); a pipeline that holds deals, or the
tenant's default pipeline, is not deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import crm_core_pb2 as events
from crm_core.events import outbox
from crm_core.models import Pipeline, Stage
from crm_core.pipelines.repository import pipeline_repository
from crm_core.pipelines.schemas import (
    MAX_STAGES,
    PipelineCreate,
    PipelineUpdate,
    StageInput,
    StageUpdate,
    clean_name,
)
from crm_kit.db.models import new_id
from crm_kit.db.session import session_tenant
from crm_kit.errors import Conflict, InvalidArgument, NotFound

DEFAULT_PIPELINE_NAME = "Sales"
# (name, win probability in percent, kind), in order.
DEFAULT_STAGES = (
    ("Qualification", 10, "open"),
    ("Needs analysis", 25, "open"),
    ("Proposal", 50, "open"),
    ("Negotiation", 75, "open"),
    ("Closed won", 100, "won"),
    ("Closed lost", 0, "lost"),
)


async def _insert(
    session: AsyncSession, *, name: str, stages: Sequence[StageInput], is_default: bool
) -> Pipeline:
    tenant = session_tenant(session)
    pipeline = Pipeline(id=new_id(), tenant_id=tenant, name=name, is_default=is_default)
    session.add(pipeline)
    await session.flush()
    for position, stage in enumerate(stages):
        session.add(
            Stage(
                id=new_id(),
                tenant_id=tenant,
                pipeline_id=pipeline.id,
                name=stage.name,
                position=position,
                probability=stage.probability,
                kind=stage.kind,
            )
        )
    await session.flush()
    outbox.add(
        session,
        event_type="crm_core.pipeline.created",
        tenant_id=tenant,
        payload=events.PipelineCreated(
            pipeline_id=str(pipeline.id), name=name, stage_names=[s.name for s in stages]
        ),
    )
    return await get(session, pipeline_id=pipeline.id)


async def create_default_pipeline(session: AsyncSession) -> Pipeline | None:
    """The tenant's first pipeline; None if it already has one (safe to repeat)."""
    if await pipeline_repository.has_default(session):
        return None
    stages = [StageInput(n, p, k) for n, p, k in DEFAULT_STAGES]
    return await _insert(session, name=DEFAULT_PIPELINE_NAME, stages=stages, is_default=True)


async def list_pipelines(session: AsyncSession) -> list[Pipeline]:
    return await pipeline_repository.list_with_stages(session)


async def get(session: AsyncSession, *, pipeline_id: uuid.UUID, lock: bool = False) -> Pipeline:
    pipeline = await pipeline_repository.get_with_stages(session, pipeline_id, for_update=lock)
    if pipeline is None:
        raise NotFound("pipeline not found", code="pipeline_not_found")
    return pipeline


async def create(session: AsyncSession, *, data: PipelineCreate) -> Pipeline:
    clean = data.cleaned()
    return await _insert(session, name=clean.name, stages=clean.stages, is_default=False)


def stage_of(pipeline: Pipeline, stage_id: uuid.UUID) -> Stage:
    for stage in pipeline.stages:
        if stage.id == stage_id:
            return stage
    raise NotFound("stage not found", code="stage_not_found")


async def publish_updated(session: AsyncSession, pipeline_id: uuid.UUID) -> Pipeline:
    pipeline = await get(session, pipeline_id=pipeline_id)
    outbox.add(
        session,
        event_type="crm_core.pipeline.updated",
        tenant_id=pipeline.tenant_id,
        payload=events.PipelineUpdated(
            pipeline_id=str(pipeline.id),
            name=pipeline.name,
            stage_ids=[str(s.id) for s in pipeline.stages],
            stage_names=[s.name for s in pipeline.stages],
        ),
    )
    return pipeline


async def renumber(session: AsyncSession, ordered: Sequence[Stage]) -> None:
    """Positions 0..n-1 in this order; two passes, as (pipeline, position) is unique."""
    for position, stage in enumerate(ordered):
        stage.position = -1 - position
    await session.flush()
    for position, stage in enumerate(ordered):
        stage.position = position
    await session.flush()


def _reordered(pipeline: Pipeline, order: list[uuid.UUID]) -> list[Stage]:
    by_id = {s.id: s for s in pipeline.stages}
    if len(order) != len(set(order)) or set(order) != set(by_id):
        raise InvalidArgument(
            "stage_order must list every stage of the pipeline exactly once",
            code="invalid_stage_order",
            field="stage_order",
        )
    return [by_id[i] for i in order]


async def update(
    session: AsyncSession, *, pipeline_id: uuid.UUID, data: PipelineUpdate
) -> Pipeline:
    """Renames the pipeline and/or puts its stages in a new order."""
    pipeline = await get(session, pipeline_id=pipeline_id, lock=True)
    if data.name is not None:
        pipeline.name = clean_name(data.name)
    if data.stage_order is not None:
        await renumber(session, _reordered(pipeline, data.stage_order))
    await session.flush()
    return await publish_updated(session, pipeline.id)


async def delete(session: AsyncSession, *, pipeline_id: uuid.UUID) -> None:
    """Deletes a pipeline and its stages; refused while it holds deals or is the default."""
    pipeline = await get(session, pipeline_id=pipeline_id, lock=True)
    if pipeline.is_default:
        raise Conflict("the default pipeline cannot be deleted", code="default_pipeline")
    if await pipeline_repository.deal_count(session, pipeline_id=pipeline.id):
        raise Conflict(
            "the pipeline holds deals; move or delete them first", code="pipeline_has_deals"
        )
    await session.execute(
        sql_delete(Pipeline)
        .where(Pipeline.id == pipeline.id)
        .execution_options(synchronize_session=False)
    )
    session.expunge(pipeline)
    outbox.add(
        session,
        event_type="crm_core.pipeline.deleted",
        tenant_id=pipeline.tenant_id,
        payload=events.PipelineDeleted(pipeline_id=str(pipeline.id)),
    )


async def add_stage(
    session: AsyncSession, *, pipeline_id: uuid.UUID, stage: StageInput, position: int | None
) -> Pipeline:
    """Adds a stage at `position` (0-based; None or past the end: last)."""
    pipeline = await get(session, pipeline_id=pipeline_id, lock=True)
    clean = stage.cleaned()
    if len(pipeline.stages) >= MAX_STAGES:
        raise InvalidArgument(
            f"a pipeline has at most {MAX_STAGES} stages", code="invalid_stages", field="stage"
        )
    ordered = list(pipeline.stages)
    if position is not None and position < 0:
        raise InvalidArgument(
            "position must be 0 or more", code="invalid_position", field="position"
        )
    new_stage = Stage(
        id=new_id(),
        tenant_id=pipeline.tenant_id,
        pipeline_id=pipeline.id,
        name=clean.name,
        position=-1 - len(ordered) - 1,
        probability=clean.probability,
        kind=clean.kind,
    )
    session.add(new_stage)
    ordered.insert(len(ordered) if position is None else position, new_stage)
    await renumber(session, ordered)
    return await publish_updated(session, pipeline.id)


async def update_stage(
    session: AsyncSession, *, pipeline_id: uuid.UUID, stage_id: uuid.UUID, data: StageUpdate
) -> Pipeline:
    """Renames a stage or changes its probability or kind (deals already in it keep theirs)."""
    pipeline = await get(session, pipeline_id=pipeline_id, lock=True)
    stage = stage_of(pipeline, stage_id)
    for name, value in data.cleaned().items():
        setattr(stage, name, value)
    await session.flush()
    return await publish_updated(session, pipeline.id)
