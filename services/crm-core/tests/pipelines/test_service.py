"""Pipelines: CRUD, stage order, stage removal with deals, the board's sums."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.deals import service as deals
from crm_core.pipelines import board, stage_removal
from crm_core.pipelines import service as pipelines
from crm_core.pipelines.schemas import PipelineCreate, PipelineUpdate, StageInput, StageUpdate
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Conflict, InvalidArgument, NotFound

from ..deals.factories import create_deal
from .factories import create_default_pipeline, create_pipeline

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


def _names(pipeline: object) -> list[str]:
    return [s.name for s in pipeline.stages]  # type: ignore[attr-defined]


class TestCrud:
    async def test_default_pipeline_has_closing_stage_kinds(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_default_pipeline(factory, tenant=tenant)
        assert [s.kind for s in pipeline.stages][-2:] == ["won", "lost"]

    async def test_rename_reorder_add_and_update_stages(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        a, b, c, d = (s.id for s in pipeline.stages)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            updated = await pipelines.update(
                session,
                pipeline_id=pipeline.id,
                data=PipelineUpdate(name="Renewals", stage_order=[b, a, d, c]),
            )
            assert updated.name == "Renewals"
            assert _names(updated) == ["Proposal", "Lead in", "Lost", "Won"]
            added = await pipelines.add_stage(
                session, pipeline_id=pipeline.id, stage=StageInput("Demo", 30), position=1
            )
            assert _names(added) == ["Proposal", "Demo", "Lead in", "Lost", "Won"]
            assert [s.position for s in added.stages] == [0, 1, 2, 3, 4]
            changed = await pipelines.update_stage(
                session, pipeline_id=pipeline.id, stage_id=a, data=StageUpdate(name="New")
            )
            assert _names(changed)[2] == "New"

    async def test_bad_stage_order_and_inputs_are_refused(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(InvalidArgument) as caught:
                await pipelines.update(
                    session,
                    pipeline_id=pipeline.id,
                    data=PipelineUpdate(stage_order=[pipeline.stages[0].id]),
                )
            assert caught.value.details["field"] == "stage_order"
            with pytest.raises(InvalidArgument) as caught:
                await pipelines.create(
                    session, data=PipelineCreate(name="X", stages=[StageInput("S", 101)])
                )
            assert caught.value.details["field"] == "stages[0].probability"
            with pytest.raises(InvalidArgument):
                await pipelines.create(session, data=PipelineCreate(name="X", stages=[]))

    async def test_delete_refused_with_deals_or_default_else_gone(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        default = await create_default_pipeline(factory, tenant=tenant)
        busy = await create_pipeline(factory, tenant=tenant, name="Busy")
        empty = await create_pipeline(factory, tenant=tenant, name="Empty")
        await create_deal(factory, tenant=tenant, pipeline_id=busy.id)
        for pipeline, code in ((default, "default_pipeline"), (busy, "pipeline_has_deals")):
            async with unit_of_work(factory, tenant_id=tenant) as session:
                with pytest.raises(Conflict) as caught:
                    await pipelines.delete(session, pipeline_id=pipeline.id)
            assert caught.value.code == code
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await pipelines.delete(session, pipeline_id=empty.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(NotFound):
                await pipelines.get(session, pipeline_id=empty.id)
            assert len(await pipelines.list_pipelines(session)) == 2


class TestStageRemoval:
    async def test_stage_with_deals_needs_a_target_then_deals_move_with_history(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        first, second = pipeline.stages[0], pipeline.stages[1]
        deal = await create_deal(factory, tenant=tenant, pipeline_id=pipeline.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(Conflict) as caught:
                await stage_removal.remove_stage(
                    session, pipeline_id=pipeline.id, stage_id=first.id, move_deals_to=None
                )
            assert caught.value.code == "stage_has_deals"
            with pytest.raises(InvalidArgument):
                await stage_removal.remove_stage(
                    session, pipeline_id=pipeline.id, stage_id=first.id, move_deals_to=first.id
                )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            after = await stage_removal.remove_stage(
                session, pipeline_id=pipeline.id, stage_id=first.id, move_deals_to=second.id
            )
            assert _names(after) == ["Proposal", "Won", "Lost"]
            assert [s.position for s in after.stages] == [0, 1, 2]
            moved = await deals.get(session, deal_id=deal.id)
            history = await deals.history(session, deal_id=deal.id)
        assert moved.stage_id == second.id
        assert [h.to_stage_id for h in history] == [first.id, second.id]

    async def test_empty_stage_goes_but_the_last_stays(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant, stages=(("Only", 5, "open"),))
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(Conflict) as caught:
                await stage_removal.remove_stage(
                    session,
                    pipeline_id=pipeline.id,
                    stage_id=pipeline.stages[0].id,
                    move_deals_to=None,
                )
        assert caught.value.code == "last_stage"


class TestBoard:
    async def test_counts_and_sums_per_stage_and_currency(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        first, second = pipeline.stages[0], pipeline.stages[1]
        for amount, currency in ((100, "EUR"), (250, "EUR"), (70, "USD")):
            await create_deal(
                factory,
                tenant=tenant,
                pipeline_id=pipeline.id,
                amount_minor=amount,
                currency=currency,
            )
        await create_deal(factory, tenant=tenant, stage_id=second.id, amount_minor=5)
        # Another tenant's deals never count (its pipeline is its own).
        theirs = await create_pipeline(factory, tenant=other_tenant)
        await create_deal(factory, tenant=other_tenant, pipeline_id=theirs.id, amount_minor=999)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            view = await board.board(session, pipeline_id=pipeline.id)
        columns = {c.stage.id: c for c in view.columns}
        assert [c.stage.name for c in view.columns] == ["Lead in", "Proposal", "Won", "Lost"]
        assert columns[first.id].deal_count == 3
        assert [(t.currency, t.amount_minor, t.count) for t in columns[first.id].totals] == [
            ("EUR", 350, 2),
            ("USD", 70, 1),
        ]
        assert [(t.currency, t.amount_minor) for t in columns[second.id].totals] == [("EUR", 5)]
        assert columns[pipeline.stages[2].id].deal_count == 0
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            with pytest.raises(NotFound):
                await board.board(session, pipeline_id=pipeline.id)
