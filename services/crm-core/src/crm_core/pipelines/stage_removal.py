"""Removing a stage: its deals move elsewhere first (recorded as stage moves), or it stays."""

from __future__ import annotations

import uuid

from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.deals import service as deals
from crm_core.deals.repository import deal_repository
from crm_core.models import Pipeline, Stage
from crm_core.pipelines.service import get, publish_updated, renumber, stage_of
from crm_kit.errors import Conflict, InvalidArgument


async def remove_stage(
    session: AsyncSession,
    *,
    pipeline_id: uuid.UUID,
    stage_id: uuid.UUID,
    move_deals_to: uuid.UUID | None,
) -> Pipeline:
    """Removes a stage; its deals move to `move_deals_to`, or the removal is refused (409)."""
    pipeline = await get(session, pipeline_id=pipeline_id, lock=True)
    stage = stage_of(pipeline, stage_id)
    if len(pipeline.stages) == 1:
        raise Conflict("a pipeline keeps at least one stage", code="last_stage")
    held = await deal_repository.ids_in_stage(session, stage.id)
    if held and move_deals_to is None:
        raise Conflict(
            "the stage holds deals; give a stage to move them to",
            code="stage_has_deals",
            field="move_deals_to_stage_id",
        )
    if held:
        target = _target(pipeline, stage, move_deals_to)
        for deal_id in held:
            await deals.move(session, deal_id=deal_id, stage_id=target.id)
    remaining = [s for s in pipeline.stages if s.id != stage.id]
    await session.execute(
        sql_delete(Stage).where(Stage.id == stage.id).execution_options(synchronize_session=False)
    )
    session.expunge(stage)
    await renumber(session, remaining)
    return await publish_updated(session, pipeline.id)


def _target(pipeline: Pipeline, stage: Stage, target_id: uuid.UUID | None) -> Stage:
    target = next((s for s in pipeline.stages if s.id == target_id), None)
    if target is None or target.id == stage.id:
        raise InvalidArgument(
            "move_deals_to_stage_id must be another stage of the same pipeline",
            code="invalid_target_stage",
            field="move_deals_to_stage_id",
        )
    return target
