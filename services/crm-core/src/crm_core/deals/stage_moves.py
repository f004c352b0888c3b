"""A deal entering a stage: status and probability follow the stage, history records it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import crm_core_pb2 as events
from crm_core.models import Deal, DealStageHistory, Stage
from crm_kit.context import current_context
from crm_kit.db.models import new_id, utcnow
from crm_kit.timestamps import to_timestamp


@dataclass(frozen=True)
class StageMove:
    from_stage_id: uuid.UUID
    to_stage_id: uuid.UUID
    moved_at: datetime
    time_in_previous_stage_seconds: int

    def event(self, snapshot: events.DealSnapshot) -> events.DealStageChanged:
        return events.DealStageChanged(
            deal=snapshot,
            from_stage_id=str(self.from_stage_id),
            to_stage_id=str(self.to_stage_id),
            time_in_previous_stage_seconds=self.time_in_previous_stage_seconds,
            moved_at=to_timestamp(self.moved_at),
        )


def first_entry(deal: Deal) -> DealStageHistory:
    """The history row of a new deal: it entered its stage from none."""
    return DealStageHistory(
        id=new_id(),
        tenant_id=deal.tenant_id,
        deal_id=deal.id,
        from_stage_id=None,
        to_stage_id=deal.stage_id,
        moved_at=deal.stage_entered_at,
        moved_by=deal.created_by,
        time_in_previous_stage_seconds=None,
    )


def enter_stage(
    session: AsyncSession, deal: Deal, stage: Stage, *, probability: int | None
) -> StageMove:
    """Puts the deal in `stage` (of any pipeline) and records how long it spent in the last.

    Status follows the stage's kind and probability the stage's, unless `probability` is
    given with the move. The caller flushes.
    """
    now = utcnow()
    move = StageMove(
        from_stage_id=deal.stage_id,
        to_stage_id=stage.id,
        moved_at=now,
        time_in_previous_stage_seconds=max(0, int((now - deal.stage_entered_at).total_seconds())),
    )
    deal.pipeline_id = stage.pipeline_id
    deal.stage_id = stage.id
    deal.status = stage.kind
    deal.probability = stage.probability if probability is None else probability
    deal.stage_entered_at = now
    session.add(
        DealStageHistory(
            id=new_id(),
            tenant_id=deal.tenant_id,
            deal_id=deal.id,
            from_stage_id=move.from_stage_id,
            to_stage_id=stage.id,
            moved_at=now,
            moved_by=current_context().user_id,
            time_in_previous_stage_seconds=move.time_in_previous_stage_seconds,
        )
    )
    return move
