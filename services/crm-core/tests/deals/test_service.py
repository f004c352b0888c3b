"""Deals: placement in pipelines, stage moves with history, concurrency, relations."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import crm_core_pb2 as events
from crm.events.v1 import envelope_pb2
from crm_core.companies import service as companies
from crm_core.contacts import service as contacts
from crm_core.deals import service as deals
from crm_core.deals.schemas import DealCreate, DealUpdate
from crm_core.models import Deal, OutboxRecord
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, NotFound, StaleVersion

from ..companies.factories import create_company
from ..contacts.factories import create_contact
from ..pipelines.factories import create_default_pipeline, create_pipeline
from .factories import create_deal

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


async def _events(factory: Factory, tenant: uuid.UUID, event_type: str) -> list[bytes]:
    async with unit_of_work(factory, tenant_id=None) as session:
        query = (
            select(OutboxRecord.envelope)
            .where(OutboxRecord.tenant_id == tenant, OutboxRecord.event_type == event_type)
            .order_by(OutboxRecord.created_at)
        )
        return list(await session.scalars(query))


async def _age_stage_entry(
    factory: Factory, tenant: uuid.UUID, deal_id: uuid.UUID, hours: int
) -> None:
    """The deal entered its stage `hours` ago (instead of waiting that long)."""
    async with unit_of_work(factory, tenant_id=tenant) as session:
        await session.execute(
            update(Deal)
            .where(Deal.id == deal_id)
            .values(stage_entered_at=utcnow() - timedelta(hours=hours))
        )


class TestCreate:
    async def test_defaults_to_default_pipeline_first_stage_with_its_probability(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_default_pipeline(factory, tenant=tenant)
        deal = await create_deal(factory, tenant=tenant, currency="eur")
        first = pipeline.stages[0]
        assert (deal.pipeline_id, deal.stage_id) == (pipeline.id, first.id)
        assert (deal.probability, deal.status, deal.currency) == (first.probability, "open", "EUR")

    async def test_probability_overrides_and_won_stage_sets_status(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        won = pipeline.stages[2]
        deal = await create_deal(factory, tenant=tenant, stage_id=won.id, probability=90)
        assert (deal.pipeline_id, deal.status, deal.probability) == (pipeline.id, "won", 90)

    @pytest.mark.parametrize(
        ("extra", "field"),
        [
            ({"amount_minor": -1}, "amount_minor"),
            ({"currency": "XXQ"}, "currency"),
            ({"expected_close_date": "31/12/2026"}, "expected_close_date"),
            ({"stage_id": uuid.uuid4()}, "stage_id"),
            ({"company_id": uuid.uuid4()}, "company_id"),
            ({"contact_ids": [uuid.uuid4()]}, "contact_ids"),
        ],
    )
    async def test_bad_input_names_the_field(
        self, factory: Factory, tenant: uuid.UUID, extra: dict[str, object], field: str
    ) -> None:
        await create_default_pipeline(factory, tenant=tenant)
        values: dict[str, object] = {"name": "D", "currency": "EUR", **extra}
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(InvalidArgument) as caught:
                await deals.create(session, data=DealCreate(**values))  # type: ignore[arg-type]
        assert caught.value.details["field"] == field

    async def test_stage_of_another_pipeline_is_refused(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        one = await create_pipeline(factory, tenant=tenant, name="One")
        two = await create_pipeline(factory, tenant=tenant, name="Two")
        with pytest.raises(InvalidArgument) as caught:
            await create_deal(factory, tenant=tenant, pipeline_id=one.id, stage_id=two.stages[0].id)
        assert caught.value.code == "stage_not_in_pipeline"


class TestStageMoves:
    async def test_move_records_time_in_previous_stage_and_publishes_stage_changed(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        lead_in, proposal, won = pipeline.stages[0], pipeline.stages[1], pipeline.stages[2]
        deal = await create_deal(factory, tenant=tenant, pipeline_id=pipeline.id)
        await _age_stage_entry(factory, tenant, deal.id, hours=2)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            moved = await deals.move(session, deal_id=deal.id, stage_id=proposal.id)
        assert (moved.stage_id, moved.probability, moved.version) == (proposal.id, 50, 2)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            closed = await deals.update(
                session, deal_id=deal.id, data=DealUpdate(stage_id=won.id, expected_version=2)
            )
            history = await deals.history(session, deal_id=deal.id)
        assert (closed.status, closed.probability) == ("won", 100)
        assert [(h.from_stage_id, h.to_stage_id) for h in history] == [
            (None, lead_in.id),
            (lead_in.id, proposal.id),
            (proposal.id, won.id),
        ]
        spent = history[1].time_in_previous_stage_seconds
        assert spent is not None
        assert 7200 <= spent < 7200 + 60
        assert history[0].time_in_previous_stage_seconds is None
        [first, _] = await _events(factory, tenant, "crm_core.deal.stage_changed")
        payload = events.DealStageChanged()
        envelope_pb2.Envelope.FromString(first).payload.Unpack(payload)
        assert (payload.from_stage_id, payload.to_stage_id) == (str(lead_in.id), str(proposal.id))
        assert payload.time_in_previous_stage_seconds == spent

    async def test_move_to_another_pipeline_follows_the_stage(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        one = await create_pipeline(factory, tenant=tenant, name="One")
        two = await create_pipeline(factory, tenant=tenant, name="Two")
        deal = await create_deal(factory, tenant=tenant, pipeline_id=one.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            moved = await deals.move(session, deal_id=deal.id, stage_id=two.stages[3].id)
        assert (moved.pipeline_id, moved.status, moved.probability) == (two.id, "lost", 0)

    async def test_stale_version_is_refused_and_unchanged_move_writes_nothing(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        deal = await create_deal(factory, tenant=tenant, pipeline_id=pipeline.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(StaleVersion):
                await deals.move(
                    session, deal_id=deal.id, stage_id=pipeline.stages[1].id, expected_version=7
                )
            same = await deals.move(session, deal_id=deal.id, stage_id=pipeline.stages[0].id)
            assert same.version == 1
            assert len(await deals.history(session, deal_id=deal.id)) == 1
        assert await _events(factory, tenant, "crm_core.deal.stage_changed") == []

    async def test_update_names_changed_fields(self, factory: Factory, tenant: uuid.UUID) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        deal = await create_deal(factory, tenant=tenant, pipeline_id=pipeline.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await deals.update(
                session,
                deal_id=deal.id,
                data=DealUpdate(changes={"amount_minor": 5, "name": "Big deal", "status": "lost"}),
            )
        [raw] = await _events(factory, tenant, "crm_core.deal.updated")
        payload = events.DealUpdated()
        envelope_pb2.Envelope.FromString(raw).payload.Unpack(payload)
        assert list(payload.changed_fields) == ["amount_minor", "status"]


class TestRelations:
    async def test_deleting_company_detaches_and_deleting_contact_unlinks(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await create_default_pipeline(factory, tenant=tenant)
        company = await create_company(factory, tenant=tenant, domain="acme.example")
        ada = await create_contact(factory, tenant=tenant)
        bob = await create_contact(factory, tenant=tenant, first_name="Bob", email="b@x.example")
        deal = await create_deal(
            factory, tenant=tenant, company_id=company.id, contact_ids=[ada.id, bob.id]
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await companies.delete(session, company_id=company.id)
            await contacts.delete(session, contact_id=ada.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            kept = await deals.get(session, deal_id=deal.id)
            assert kept.company_id is None
            assert (await deals.contact_ids(session, [kept]))[deal.id] == [bob.id]

    async def test_delete_removes_deal_and_history(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        deal = await create_deal(factory, tenant=tenant, pipeline_id=pipeline.id)
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            with pytest.raises(NotFound):
                await deals.delete(session, deal_id=deal.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await deals.delete(session, deal_id=deal.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(NotFound):
                await deals.history(session, deal_id=deal.id)
        assert len(await _events(factory, tenant, "crm_core.deal.deleted")) == 1
