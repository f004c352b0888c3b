"""The timeline: every source, newest first, keyset pages that hold under inserts."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.contacts import service as contacts
from crm_core.contacts.schemas import ContactUpdate
from crm_core.deals import service as deals
from crm_core.timeline.feed import timeline
from crm_core.timeline.record_refs import RecordRef
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, NotFound

from ..contacts.factories import create_contact
from ..deals.factories import create_deal
from ..engagements.factories import create_activity, create_note, create_task
from ..pipelines.factories import create_pipeline

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


async def _rename(factory: Factory, tenant: uuid.UUID, contact_id: uuid.UUID, name: str) -> None:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        await contacts.update(
            session, contact_id=contact_id, data=ContactUpdate(changes={"first_name": name})
        )


async def _all_pages(factory: Factory, tenant: uuid.UUID, ref: RecordRef, size: int) -> list[str]:
    seen: list[str] = []
    cursor = ""
    async with unit_of_work(factory, tenant_id=tenant) as session:
        while True:
            page = await timeline(session, ref=ref, limit=size, cursor=cursor)
            seen += [e.type for e in page.entries]
            if not page.next_cursor:
                return seen
            cursor = page.next_cursor


class TestTimeline:
    async def test_merges_sources_newest_first(self, factory: Factory, tenant: uuid.UUID) -> None:
        contact = await create_contact(factory, tenant=tenant)
        ref = RecordRef("contacts", contact.id)
        await create_note(factory, tenant=tenant, refs=[ref])
        await _rename(factory, tenant, contact.id, "Grace")
        await create_task(factory, tenant=tenant, refs=[ref])
        await create_activity(factory, tenant=tenant, refs=[ref])
        async with unit_of_work(factory, tenant_id=tenant) as session:
            page = await timeline(session, ref=ref)
        assert [e.type for e in page.entries] == ["activity", "task", "field_change", "note"]
        change = page.entries[2]
        assert change.payload == {"changes": {"first_name": ["Ada", "Grace"]}}
        times = [e.occurred_at for e in page.entries]
        assert times == sorted(times, reverse=True)
        assert page.next_cursor == ""

    async def test_deal_stage_moves_are_entries(self, factory: Factory, tenant: uuid.UUID) -> None:
        pipeline = await create_pipeline(factory, tenant=tenant)
        deal = await create_deal(factory, tenant=tenant, pipeline_id=pipeline.id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await deals.move(session, deal_id=deal.id, stage_id=pipeline.stages[1].id)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            page = await timeline(session, ref=RecordRef("deals", deal.id))
        moves = [e for e in page.entries if e.type == "stage_move"]
        assert [m.payload["to_stage_id"] for m in moves] == [
            str(pipeline.stages[1].id),
            str(pipeline.stages[0].id),
        ]
        assert {e.type for e in page.entries} == {"stage_move", "field_change"}

    async def test_pages_neither_repeat_nor_skip_when_entries_arrive_between_pages(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant)
        ref = RecordRef("contacts", contact.id)
        for i in range(5):
            await _rename(factory, tenant, contact.id, f"Name{i}")
            await create_note(factory, tenant=tenant, refs=[ref], body=f"<p>{i}</p>")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            before = [e.id for e in (await timeline(session, ref=ref)).entries]
            first = await timeline(session, ref=ref, limit=4)
        # A concurrent writer adds entries after the first page was read.
        await create_note(factory, tenant=tenant, refs=[ref], body="<p>late</p>")
        await _rename(factory, tenant, contact.id, "Late")
        seen = [e.id for e in first.entries]
        cursor = first.next_cursor
        async with unit_of_work(factory, tenant_id=tenant) as session:
            while cursor:
                page = await timeline(session, ref=ref, limit=4, cursor=cursor)
                seen += [e.id for e in page.entries]
                cursor = page.next_cursor
        assert seen == before
        assert len(seen) == 10

    async def test_unknown_or_foreign_record_is_not_found(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        foreign = await create_contact(factory, tenant=other_tenant)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            for record_id in (foreign.id, uuid.uuid4()):
                with pytest.raises(NotFound):
                    await timeline(session, ref=RecordRef("contacts", record_id))

    async def test_a_forged_cursor_is_invalid(self, factory: Factory, tenant: uuid.UUID) -> None:
        contact = await create_contact(factory, tenant=tenant)
        async with unit_of_work(factory, tenant_id=tenant) as session:
            with pytest.raises(InvalidArgument) as caught:
                await timeline(session, ref=RecordRef("contacts", contact.id), cursor="bm9wZQ==")
        assert caught.value.details.get("field") == "cursor"
