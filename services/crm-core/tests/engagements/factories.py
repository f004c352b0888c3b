"""Small typed factories for activities, tasks and notes."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.engagements import activities, notes, tasks
from crm_core.engagements.activities import ActivityCreate
from crm_core.engagements.tasks import TaskCreate
from crm_core.models import Activity, Note, Task
from crm_core.timeline.record_refs import RecordRef
from crm_kit.db.session import unit_of_work

Factory = async_sessionmaker[AsyncSession]


async def create_note(
    factory: Factory, *, tenant: uuid.UUID, refs: list[RecordRef], body: str = "<p>Hi</p>"
) -> Note:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await notes.create(session, body_html=body, refs=refs, owner_id=None)


async def create_task(
    factory: Factory,
    *,
    tenant: uuid.UUID,
    refs: list[RecordRef],
    title: str = "Call back",
    **extra: Any,
) -> Task:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await tasks.create(session, data=TaskCreate(title=title, records=refs, **extra))


async def create_activity(
    factory: Factory,
    *,
    tenant: uuid.UUID,
    refs: list[RecordRef],
    kind: str = "call",
    subject: str = "Intro",
    **extra: Any,
) -> Activity:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await activities.create(
            session, data=ActivityCreate(kind=kind, subject=subject, records=refs, **extra)
        )
