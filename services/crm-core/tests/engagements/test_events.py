"""Item creates, updates (with the changed fields) and deletes write outbox events."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import crm_core_pb2 as events
from crm.events.v1 import envelope_pb2
from crm_core.engagements import tasks
from crm_core.engagements.items import delete_item
from crm_core.engagements.tasks import TASK
from crm_core.models import OutboxRecord
from crm_core.timeline.record_refs import RecordRef
from crm_kit.db.session import unit_of_work

from ..contacts.factories import create_contact
from .factories import create_task

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


async def _envelopes(factory: Factory, tenant: uuid.UUID) -> list[envelope_pb2.Envelope]:
    async with unit_of_work(factory, tenant_id=None) as session:
        query = (
            select(OutboxRecord.envelope)
            .where(OutboxRecord.tenant_id == tenant, OutboxRecord.event_type.like("%task%"))
            .order_by(OutboxRecord.created_at)
        )
        return [envelope_pb2.Envelope.FromString(raw) for raw in await session.scalars(query)]


class TestTaskEvents:
    async def test_created_updated_with_changed_fields_and_deleted(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        contact = await create_contact(factory, tenant=tenant)
        ref = RecordRef("contacts", contact.id)
        task = await create_task(factory, tenant=tenant, refs=[ref])
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await tasks.update(
                session,
                task_id=task.id,
                changes={"title": "Renamed", "status": "done"},
                refs=[],
                expected_version=None,
            )
            # Nothing changes: no event.
            await tasks.update(
                session,
                task_id=task.id,
                changes={"title": "Renamed"},
                refs=None,
                expected_version=None,
            )
            await delete_item(session, TASK, task.id)
        found = await _envelopes(factory, tenant)
        assert [e.type for e in found] == [
            "crm_core.task.created",
            "crm_core.task.updated",
            "crm_core.task.deleted",
        ]
        created, updated = events.RecordItemCreated(), events.RecordItemUpdated()
        found[0].payload.Unpack(created)
        found[1].payload.Unpack(updated)
        assert [r.record_id for r in created.item.records] == [str(contact.id)]
        assert list(updated.changed_fields) == ["title", "status", "completed_at", "records"]
        assert updated.item.fields["title"] == "Renamed"
        assert list(updated.item.records) == []
