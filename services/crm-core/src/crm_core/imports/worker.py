"""The import worker: claims queued jobs (`FOR UPDATE SKIP LOCKED`, so replicas share the
queue), holds a lease it renews with every chunk, and processes the file in chunks.

Each chunk is one transaction: its records, their field history and events, its row
problems and the job's checkpoint (resume offset, counters) commit together or not at
all. A worker that dies mid-chunk leaves nothing of that chunk; once its lease lapses,
another worker claims the job and resumes at the last committed checkpoint. While one
chunk is merged in PostgreSQL, the next is read and cleaned in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

from sqlalchemy import delete, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import envelope_pb2
from crm_core.custom_fields.repository import custom_field_repository
from crm_core.deals.placement import resolve_stage
from crm_core.files.storage import FileStore
from crm_core.imports import events as import_events
from crm_core.imports import service
from crm_core.imports.csv_format import CsvRow, read_rows
from crm_core.imports.mapping import JobMapping, checked_mapping
from crm_core.imports.merge import ChunkMerge, MergeOutcome, Placement
from crm_core.imports.rows import CleanChunk, RowCleaner, staging_records
from crm_core.imports.targets import import_target
from crm_core.models import ImportJob, ImportQueueEntry
from crm_kit.background import repeat
from crm_kit.context import RequestContext, bind_context
from crm_kit.db.driver_reads import session_driver
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import ServiceError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
_CLAIM = text(
    "UPDATE import_queue SET leased_until = now() + make_interval(secs => :lease), "
    "lease_owner = :owner WHERE job_id = (SELECT job_id FROM import_queue "
    "WHERE leased_until IS NULL OR leased_until < now() ORDER BY queued_at "
    "FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING job_id, tenant_id"
)
_RENEW = text(
    "UPDATE import_queue SET leased_until = now() + make_interval(secs => :lease) "
    "WHERE job_id = :job_id AND lease_owner = :owner"
)


class LeaseLost(Exception):
    """Another worker holds the job now (this one was too slow to renew)."""


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    tenant_id: uuid.UUID


@dataclass
class Prepared:
    chunk: CleanChunk
    records: list[tuple[Any, ...]]


@dataclass
class ImportWorker:
    factory: async_sessionmaker[AsyncSession]
    store: FileStore
    chunk_rows: int = 25_000
    lease_seconds: float = 120.0
    poll_seconds: float = 1.0
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )

    async def run(self) -> None:
        """Claims and processes jobs until cancelled; a failure is logged, never fatal."""
        await repeat(self.run_once, idle_seconds=self.poll_seconds, what="import worker")

    async def run_once(self) -> bool:
        """Claims one job and processes it; False when none was waiting."""
        claim = await self.claim()
        if claim is None:
            return False
        await self.process(claim)
        return True

    async def claim(self) -> Claim | None:
        """The oldest job not leased (or whose lease lapsed), now leased to this worker."""
        async with unit_of_work(self.factory, tenant_id=None) as session:
            row = (
                await session.execute(_CLAIM, {"lease": self.lease_seconds, "owner": self.owner})
            ).first()
        return Claim(row.job_id, row.tenant_id) if row else None

    async def process(self, claim: Claim, *, max_chunks: int | None = None) -> None:
        """Runs the job from its checkpoint to the end (or `max_chunks` chunks, leaving it
        leased as a worker that stopped there would)."""
        try:
            await self._process(claim, max_chunks)
        except LeaseLost:
            log.warning("import lease lost", extra={"import_id": str(claim.job_id)})
        except Exception as error:
            log.exception("import chunk failed", extra={"import_id": str(claim.job_id)})
            await self._failed_attempt(claim, error)

    async def _begin(self, claim: Claim) -> tuple[ImportJob, JobMapping] | None:
        async with unit_of_work(self.factory, tenant_id=claim.tenant_id) as session:
            job = await service.get(session, job_id=claim.job_id, lock=True)
            if job.state not in ("queued", "running"):
                await self._dequeue(session, job.id)
                return None
            target = import_target(job.object_type)
            definitions = await custom_field_repository.list_for(session, target.name)
            try:
                mapping = checked_mapping(
                    target,
                    headers=job.columns,
                    fields=job.mapping.get("fields", {}),
                    mode=job.mode,
                    match_key=job.match_key,
                    definitions=definitions,
                )
            except ServiceError as error:
                # A custom field changed since the job started: the mapping no longer holds.
                await self._finish(session, job, state="failed", error=error.message)
                return None
            if job.state == "queued":
                job.state = "running"
                job.started_at = utcnow()
            return job, mapping

    async def _process(self, claim: Claim, max_chunks: int | None) -> None:
        begun = await self._begin(claim)
        if begun is None:
            return
        job, mapping = begun
        target = import_target(job.object_type)
        merge = ChunkMerge(target, mapping, returning=import_events.snapshot_columns(target.name))
        cleaner = RowCleaner(target, mapping)
        context = RequestContext(
            request_id=f"import-{job.id}",
            tenant_id=job.tenant_id,
            user_id=job.created_by,
            actor_kind=job.actor_kind,
        )
        writer = import_events.EventWriter(
            target.name,
            tenant_id=job.tenant_id,
            actor=envelope_pb2.Actor(
                kind=job.actor_kind if job.created_by else "system",
                id=str(job.created_by or ""),
            ),
            request_id=context.request_id,
        )
        with self._spooled(job) as spool_path, bind_context(context):
            await self._fetch(job, spool_path)
            with open(spool_path, "rb") as source:  # noqa: ASYNC230 - read in a thread below
                rows = read_rows(
                    source,
                    delimiter=job.delimiter,
                    offset=job.resume_offset,
                    first_number=job.next_row_number,
                )
                offset, number = job.resume_offset, job.next_row_number
                pending = asyncio.create_task(
                    asyncio.to_thread(self._prepare, cleaner, rows, offset, number)
                )
                done = 0
                while True:
                    prepared = await pending
                    if prepared.chunk.rows == 0:
                        await self._complete(claim)
                        return
                    offset, number = prepared.chunk.end_offset, prepared.chunk.next_number
                    pending = asyncio.create_task(
                        asyncio.to_thread(self._prepare, cleaner, rows, offset, number)
                    )
                    try:
                        going_on = await self._commit_chunk(claim, merge, writer, prepared)
                    except BaseException:
                        pending.cancel()
                        with contextlib.suppress(BaseException):
                            await pending
                        raise
                    done += 1
                    if not going_on or (max_chunks is not None and done >= max_chunks):
                        with contextlib.suppress(BaseException):
                            await pending
                        return

    def _prepare(
        self, cleaner: RowCleaner, rows: Iterator[CsvRow], offset: int, number: int
    ) -> Prepared:
        batch = [row for _, row in zip(range(self.chunk_rows), rows, strict=False)]
        chunk = cleaner.clean_chunk(batch, next_number=number, offset=offset)
        return Prepared(chunk, staging_records(cleaner.target, chunk.staged))

    @contextlib.contextmanager
    def _spooled(self, job: ImportJob) -> Iterator[str]:
        fd, path = tempfile.mkstemp(prefix=f"crm-import-{job.id}-")
        os.close(fd)
        try:
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    async def _fetch(self, job: ImportJob, path: str) -> None:
        """The uploaded file, copied locally so the reader can seek to the checkpoint."""
        out: IO[bytes]
        with open(path, "wb") as out:  # noqa: ASYNC230 - written in a thread
            async for data in self.store.read(job.storage_key):
                await asyncio.to_thread(out.write, data)

    async def _renew(self, session: AsyncSession, claim: Claim) -> None:
        renewed = await session.execute(
            _RENEW, {"lease": self.lease_seconds, "job_id": claim.job_id, "owner": self.owner}
        )
        if renewed.rowcount == 0:  # type: ignore[attr-defined]
            raise LeaseLost(str(claim.job_id))

    async def _commit_chunk(
        self,
        claim: Claim,
        merge: ChunkMerge,
        writer: import_events.EventWriter,
        prepared: Prepared,
    ) -> bool:
        """One chunk in one transaction; False when the job was cancelled meanwhile."""
        chunk = prepared.chunk
        async with unit_of_work(self.factory, tenant_id=claim.tenant_id) as session:
            job = await service.get(session, job_id=claim.job_id, lock=True)
            if job.state != "running":
                return False
            await self._renew(session, claim)
            for column in merge.mapping.custom.values():
                if column.unique:
                    # As the API's unique checks do: one writer per definition at a time.
                    await custom_field_repository.lock_definition(session, column.definition_id)
            placement = await self._placement(session, job)
            connection = await session_driver(session)
            outcome = await merge.run(
                connection,
                tenant_id=job.tenant_id,
                actor=job.created_by,
                now=utcnow(),
                records=prepared.records,
                placement=placement,
            )
            failed_rows = await self._write_problems(connection, job, chunk, outcome, merge)
            await import_events.write(
                connection, writer.records(outcome.created_rows, outcome.updated_rows)
            )
            job.rows_done += chunk.rows
            job.created_count += outcome.created
            job.updated_count += outcome.updated
            job.failed_count += failed_rows
            job.resume_offset = chunk.end_offset
            job.next_row_number = chunk.next_number
            job.updated_at = utcnow()
        return True

    async def _placement(self, session: AsyncSession, job: ImportJob) -> Placement | None:
        if job.object_type != "deals":
            return None
        stage = await resolve_stage(session, pipeline_id=None, stage_id=None)
        return Placement(stage.pipeline_id, stage.id, stage.probability, stage.kind)

    async def _write_problems(
        self,
        connection: Any,
        job: ImportJob,
        chunk: CleanChunk,
        outcome: MergeOutcome,
        merge: ChunkMerge,
    ) -> int:
        headers = merge.mapping.headers
        problems = list(chunk.problems)
        for number, column, reason in outcome.refused:
            position = headers.index(column) + 1 if column in headers else 0
            problems.append((number, position, column, reason))
        if problems:
            await connection.execute(
                "INSERT INTO import_errors (tenant_id, job_id, row_number, position, column_name,"
                " reason) SELECT $1, $2, * FROM unnest($3::bigint[], $4::int[], $5::text[],"
                " $6::text[]) ON CONFLICT DO NOTHING",
                job.tenant_id,
                job.id,
                [p[0] for p in problems],
                [p[1] for p in problems],
                [p[2] for p in problems],
                [p[3] for p in problems],
            )
        return len({p[0] for p in problems})

    async def _complete(self, claim: Claim) -> None:
        async with unit_of_work(self.factory, tenant_id=claim.tenant_id) as session:
            job = await service.get(session, job_id=claim.job_id, lock=True)
            if job.state == "running":
                job.rows_total = job.rows_done
                await self._finish(session, job, state="completed")

    async def _finish(
        self, session: AsyncSession, job: ImportJob, *, state: str, error: str = ""
    ) -> None:
        job.state = state
        job.error = error
        job.finished_at = utcnow()
        await self._dequeue(session, job.id)
        service.emit_completed(session, job)
        await session.flush()

    async def _dequeue(self, session: AsyncSession, job_id: uuid.UUID) -> None:
        await session.execute(delete(ImportQueueEntry).where(ImportQueueEntry.job_id == job_id))

    async def _failed_attempt(self, claim: Claim, error: Exception) -> None:
        """Retried from the checkpoint after a pause; after MAX_ATTEMPTS the job fails."""
        async with unit_of_work(self.factory, tenant_id=None) as session:
            attempts = await session.scalar(
                update(ImportQueueEntry)
                .where(ImportQueueEntry.job_id == claim.job_id)
                .values(
                    attempts=ImportQueueEntry.attempts + 1,
                    leased_until=utcnow() + timedelta(seconds=self.poll_seconds * 5),
                    lease_owner="",
                )
                .returning(ImportQueueEntry.attempts)
            )
        if attempts is None or attempts < MAX_ATTEMPTS:
            return
        async with unit_of_work(self.factory, tenant_id=claim.tenant_id) as session:
            job = await service.get(session, job_id=claim.job_id, lock=True)
            if job.state in ("queued", "running"):
                reason = error.message if isinstance(error, ServiceError) else "an internal error"
                await self._finish(
                    session,
                    job,
                    state="failed",
                    error=f"stopped at row {job.next_row_number} after {attempts} attempts: "
                    f"{reason}; the rows before it are imported",
                )
