"""The pipeline view: per stage, how many deals and their amounts per currency."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Pipeline, Stage
from crm_core.pipelines.repository import pipeline_repository
from crm_core.pipelines.service import get


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    amount_minor: int
    count: int


@dataclass
class BoardColumn:
    stage: Stage
    deal_count: int = 0
    totals: list[CurrencyTotal] = field(default_factory=list)


@dataclass(frozen=True)
class Board:
    pipeline: Pipeline
    columns: list[BoardColumn]


async def board(session: AsyncSession, *, pipeline_id: uuid.UUID) -> Board:
    """Every stage in order (empty ones too), amounts never summed across currencies."""
    pipeline = await get(session, pipeline_id=pipeline_id)
    columns = {s.id: BoardColumn(s) for s in pipeline.stages}
    for total in await pipeline_repository.stage_totals(session, pipeline.id):
        column = columns[total.stage_id]
        column.deal_count += total.count
        column.totals.append(CurrencyTotal(total.currency, total.amount_minor, total.count))
    return Board(pipeline, list(columns.values()))
