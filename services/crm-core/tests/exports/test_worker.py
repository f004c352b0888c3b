"""Workers share the queue safely: a claimed job is skipped by the others, a worker
that dies midway leaves its job to be claimed again once the lease runs out and
written in full, a request that no longer holds fails, and old files are deleted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from crm_core.custom_fields import service as custom_fields
from crm_core.exports.worker import ExportLimits, ExportWorker
from crm_core.files.storage import LocalDiskStore, WrittenBlob
from crm_core.models import CustomFieldDefinition, ExportQueueEntry
from crm_core.queries.filters import Filter
from crm_kit.db.session import unit_of_work

from ..contacts.factories import create_contact
from ..custom_fields.factories import define_field
from .factories import Factory, files_under, job_of, queue_export, read_csv, run_all

pytestmark = pytest.mark.integration

SHORT_LEASE = ExportLimits(lease=timedelta(seconds=0.3), poll_seconds=0.05)


async def seed_contacts(factory: Factory, *, tenant: uuid.UUID, count: int) -> set[str]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        await session.execute(
            text(
                "INSERT INTO contacts (id, tenant_id, first_name, last_name, email, phone,"
                " version, created_at, updated_at, custom_fields)"
                " SELECT gen_random_uuid(), :tenant, 'N' || g, 'L', 'c' || g || '@x.example',"
                " '', 1, now() + g * interval '1 microsecond', now(), '{}'::jsonb"
                " FROM generate_series(1, :count) AS g"
            ),
            {"tenant": tenant, "count": count},
        )
        ids = await session.scalars(text("SELECT id::text FROM contacts"))
        return set(ids)


class StallingStore(LocalDiskStore):
    """A disk that takes the first chunk and then hangs, like a worker that stopped."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.stalled = asyncio.Event()

    async def write(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int) -> WrittenBlob:
        async def first_then_hang() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                yield chunk
                self.stalled.set()
                await asyncio.Event().wait()

        return await super().write(key, first_then_hang(), max_bytes=max_bytes)


class TestWorkers:
    async def test_a_worker_dying_midway_leaves_the_job_to_another_that_writes_it_whole(
        self, factory: Factory, tenant: uuid.UUID, tmp_path: Path
    ) -> None:
        ids = await seed_contacts(factory, tenant=tenant, count=20_000)
        job = await queue_export(factory, tenant=tenant, columns=["id", "first_name"])
        stalling = StallingStore(tmp_path)
        dying = asyncio.create_task(ExportWorker(factory, stalling, SHORT_LEASE).run_once())
        await asyncio.wait_for(stalling.stalled.wait(), timeout=30)
        assert (await job_of(factory, tenant=tenant, job_id=job.id)).state == "running"

        dying.cancel()
        with pytest.raises(asyncio.CancelledError):
            await dying
        survivor = ExportWorker(factory, LocalDiskStore(tmp_path), SHORT_LEASE)
        assert not await survivor.run_once()  # the lease still holds
        await asyncio.sleep(0.4)
        await run_all(survivor)

        done = await job_of(factory, tenant=tenant, job_id=job.id)
        assert done.state == "completed"
        assert done.attempts == 2
        rows = read_csv(tmp_path, done)
        assert len(rows) == done.rows_written == 20_000
        assert {r["id"] for r in rows} == ids
        assert files_under(tmp_path, ".upload-*") == []

    async def test_a_job_claimed_by_one_worker_is_skipped_by_the_others(
        self, factory: Factory, tenant: uuid.UUID, tmp_path: Path
    ) -> None:
        await seed_contacts(factory, tenant=tenant, count=10)
        first = await queue_export(factory, tenant=tenant)
        second = await queue_export(factory, tenant=tenant)
        workers = [ExportWorker(factory, LocalDiskStore(tmp_path)) for _ in range(3)]

        ran = await asyncio.gather(*(w.run_once() for w in workers))

        assert sorted(ran) == [False, True, True]
        for job in (first, second):
            done = await job_of(factory, tenant=tenant, job_id=job.id)
            assert done.state == "completed"
            assert done.attempts == 1

    async def test_a_job_failing_every_attempt_ends_failed(
        self, factory: Factory, tenant: uuid.UUID, tmp_path: Path
    ) -> None:
        job = await queue_export(factory, tenant=tenant)
        limits = ExportLimits(lease=timedelta(seconds=0.05), max_attempts=2)
        for _ in range(2):
            await asyncio.sleep(0.1)  # the previous attempt's lease runs out
            stalling = StallingStore(tmp_path)
            attempt = asyncio.create_task(ExportWorker(factory, stalling, limits).run_once())
            await asyncio.wait_for(stalling.stalled.wait(), timeout=30)
            attempt.cancel()
            with pytest.raises(asyncio.CancelledError):
                await attempt

        await asyncio.sleep(0.1)
        await run_all(ExportWorker(factory, LocalDiskStore(tmp_path), limits))

        done = await job_of(factory, tenant=tenant, job_id=job.id)
        assert done.state == "failed"
        assert done.error_code == "export_attempts_exhausted"

    async def test_a_custom_field_deleted_before_the_run_fails_the_job(
        self, factory: Factory, tenant: uuid.UUID, tmp_path: Path
    ) -> None:
        definition = await define_field(factory, tenant=tenant, key="tier", field_type="text")
        await create_contact(factory, tenant=tenant, custom_fields={"tier": "gold"})
        job = await queue_export(
            factory,
            tenant=tenant,
            filters=[Filter("custom_fields.tier", "eq", "gold", has_value=True)],
        )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            await custom_fields.delete(session, object_type="contacts", definition_id=definition.id)

        await run_all(ExportWorker(factory, LocalDiskStore(tmp_path)))

        done = await job_of(factory, tenant=tenant, job_id=job.id)
        assert done.state == "failed"
        assert done.error_code == "unknown_field"
        async with unit_of_work(factory, tenant_id=tenant) as session:
            assert await session.get(ExportQueueEntry, job.id) is None
            assert (
                await session.scalar(select(func.count()).select_from(CustomFieldDefinition)) == 0
            )

    async def test_the_file_is_deleted_when_it_expires(
        self, factory: Factory, tenant: uuid.UUID, tmp_path: Path
    ) -> None:
        await create_contact(factory, tenant=tenant)
        job = await queue_export(factory, tenant=tenant)
        worker = ExportWorker(
            factory, LocalDiskStore(tmp_path), ExportLimits(retention=timedelta(0))
        )

        await run_all(worker)

        done = await job_of(factory, tenant=tenant, job_id=job.id)
        assert done.state == "expired"
        assert done.storage_key is None
        assert files_under(tmp_path, "*.csv") == []
