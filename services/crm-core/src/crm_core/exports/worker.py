"""The export worker: claims due jobs from `export_queue` and runs or purges them.

Several replicas may run it: a claim is `SELECT ... FOR UPDATE SKIP LOCKED` on the
earliest due entry, which moves its `due_at` past a lease and commits. The worker
renews the lease while it writes the file; if it dies, the lease runs out and another
worker claims the job again and writes the whole file anew (the store replaces the
object only once it is complete, so no reader ever sees half a file). After
`max_attempts` claims the job fails. A completed job's entry comes due again when its
file expires, and the worker then deletes the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.exports.plan import plan_export
from crm_core.exports.query import compile_select
from crm_core.exports.service import stored_selection
from crm_core.exports.stream import CopyProgress, copy_csv, header_line
from crm_core.files.storage import FileStore
from crm_core.models import ExportJob, ExportQueueEntry
from crm_core.permissions.visibility import audience_of
from crm_kit.background import repeat
from crm_kit.context import RequestContext
from crm_kit.db.driver_reads import session_driver
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import ServiceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportLimits:
    lease: timedelta = timedelta(seconds=60)
    poll_seconds: float = 1.0
    retention: timedelta = timedelta(days=7)
    max_attempts: int = 3
    max_bytes: int = 20 * 1024**3


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    tenant_id: uuid.UUID


def storage_key(job: ExportJob) -> str:
    return f"{job.tenant_id}/exports/{job.id}.csv"


class ExportWorker:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        store: FileStore,
        limits: ExportLimits | None = None,
    ) -> None:
        self._factory = factory
        self._store = store
        self._limits = limits or ExportLimits()

    async def run_forever(self) -> None:
        """Works through due jobs, then polls; an error is logged and the loop goes on."""
        await repeat(self.run_once, idle_seconds=self._limits.poll_seconds, what="export worker")

    async def run_once(self) -> bool:
        """Claims one due job and handles it; False when none was due."""
        claim = await self._claim()
        if claim is None:
            return False
        await self._handle(claim)
        return True

    async def _claim(self) -> Claim | None:
        async with unit_of_work(self._factory, tenant_id=None) as session:
            entry = await session.scalar(
                select(ExportQueueEntry)
                .where(ExportQueueEntry.due_at <= utcnow())
                .order_by(ExportQueueEntry.due_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if entry is None:
                return None
            entry.due_at = utcnow() + self._limits.lease
            return Claim(entry.job_id, entry.tenant_id)

    async def _handle(self, claim: Claim) -> None:
        async with unit_of_work(self._factory, tenant_id=claim.tenant_id) as session:
            job = await session.get(ExportJob, claim.job_id)
            if job is None or job.state in ("failed", "expired"):
                await _dequeue(session, claim)
                return
            if job.state == "completed":
                await self._purge(session, job, claim)
                return
            job.attempts += 1
            if job.attempts > self._limits.max_attempts:
                _fail(job, "export_attempts_exhausted", "the export failed on every attempt")
                await _dequeue(session, claim)
                return
            job.state, job.started_at, job.rows_written = "running", utcnow(), 0
        progress = CopyProgress()
        heartbeat = asyncio.create_task(self._renew_lease(claim, progress))
        try:
            await self._write(claim, job, progress)
        except ServiceError as error:
            # The request no longer holds (a custom field it names was deleted):
            # retrying cannot help.
            async with unit_of_work(self._factory, tenant_id=claim.tenant_id) as session:
                failed = await session.get(ExportJob, claim.job_id)
                if failed is not None:
                    _fail(failed, error.code, error.message)
                await _dequeue(session, claim)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _write(self, claim: Claim, job: ExportJob, progress: CopyProgress) -> None:
        key = storage_key(job)
        async with unit_of_work(self._factory, tenant_id=claim.tenant_id) as session:
            requester = RequestContext(
                tenant_id=claim.tenant_id,
                user_id=job.requested_by,
                roles=tuple(job.requester_roles),
                actor_kind=job.requester_kind,
            )
            plan = await plan_export(
                session,
                object_type=job.object_type,
                selection=stored_selection(job),
                names=job.request["columns"],
                audience=audience_of(requester),
                tenant=claim.tenant_id,
            )
            columns, query = plan.columns, compile_select(plan.statement)
            driver = await session_driver(session)

            async def chunks() -> AsyncGenerator[bytes, None]:
                yield header_line(
                    [c.header for c in columns], byte_order_mark=job.request["byte_order_mark"]
                )
                async for chunk in copy_csv(driver, query, progress):
                    yield chunk

            # Closed however the write ends, so a COPY cut short stops at once.
            async with contextlib.aclosing(chunks()) as stream:
                written = await self._store.write(key, stream, max_bytes=self._limits.max_bytes)
        async with unit_of_work(self._factory, tenant_id=claim.tenant_id) as session:
            done = await session.get(ExportJob, claim.job_id)
            if done is None:  # deleted meanwhile (its tenant went)
                await asyncio.to_thread(self._store.remove, key)
                await _dequeue(session, claim)
                return
            now = utcnow()
            done.state, done.completed_at = "completed", now
            done.rows_written, done.size_bytes = progress.rows, written.size_bytes
            done.storage_key = key
            done.file_expires_at = now + self._limits.retention
            await session.execute(
                update(ExportQueueEntry)
                .where(ExportQueueEntry.job_id == claim.job_id)
                .values(due_at=done.file_expires_at)
            )

    async def _renew_lease(self, claim: Claim, progress: CopyProgress) -> None:
        """Keeps the claim alive and reports the rows so far, a few times per lease."""
        interval = self._limits.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            async with unit_of_work(self._factory, tenant_id=claim.tenant_id) as session:
                await session.execute(
                    update(ExportQueueEntry)
                    .where(ExportQueueEntry.job_id == claim.job_id)
                    .values(due_at=utcnow() + self._limits.lease)
                )
                await session.execute(
                    update(ExportJob)
                    .where(ExportJob.id == claim.job_id, ExportJob.state == "running")
                    .values(rows_written=progress.rows)
                )

    async def _purge(self, session: AsyncSession, job: ExportJob, claim: Claim) -> None:
        if job.storage_key is not None:
            await asyncio.to_thread(self._store.remove, job.storage_key)
        job.state, job.storage_key = "expired", None
        await _dequeue(session, claim)


def _fail(job: ExportJob, code: str, message: str) -> None:
    job.state, job.error_code, job.error_message = "failed", code, message[:1000]
    job.completed_at = utcnow()


async def _dequeue(session: AsyncSession, claim: Claim) -> None:
    await session.execute(delete(ExportQueueEntry).where(ExportQueueEntry.job_id == claim.job_id))
