"""Import use cases: upload and sniff a CSV, start it with a mapping, read progress and
problems, cancel. Each takes the tenant-bound session, flushes, never commits."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import crm_core_pb2 as events
from crm_core.custom_fields.repository import custom_field_repository
from crm_core.events import outbox
from crm_core.files.blob_cleanup import remove_after_commit, remove_after_rollback
from crm_core.files.service import clean_filename
from crm_core.files.storage import FileStore
from crm_core.imports import csv_format
from crm_core.imports.mapping import checked_mapping, stored, suggest
from crm_core.imports.targets import import_target
from crm_core.models import ImportJob, ImportQueueEntry, ImportRowError, RecordVisibilityRule
from crm_core.models.permission import VISIBILITY_OWN
from crm_core.permissions.visibility import audience_of
from crm_core.timeline.cursor import decode_cursor, encode_cursor
from crm_kit.context import current_context
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import session_tenant
from crm_kit.errors import Conflict, InvalidArgument, NotFound, PermissionDenied

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
ACTIVE_STATES = ("awaiting_mapping", "queued", "running")
ERRORS_PAGE = 5000


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int


@dataclass(frozen=True)
class ImportPage:
    jobs: list[ImportJob]
    next_cursor: str


def unique_headers(columns: list[str]) -> list[str]:
    """Every column named, and once: an empty header is `Column 3`, a repeat `Email (2)`."""
    seen: dict[str, int] = {}
    out = []
    for position, column in enumerate(columns, start=1):
        name = column or f"Column {position}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        seen.setdefault(name, 1)
        out.append(name)
    return out


async def _captured(chunks: AsyncIterable[bytes], head: bytearray) -> AsyncIterator[bytes]:
    """Passes the bytes through, keeping the first ones for sniffing."""
    async for chunk in chunks:
        if len(head) < csv_format.SNIFF_BYTES:
            head.extend(chunk[: csv_format.SNIFF_BYTES - len(head)])
        yield chunk


async def upload(
    session: AsyncSession,
    *,
    store: FileStore,
    limits: ImportLimits,
    object_type: str,
    filename: str,
    chunks: AsyncIterable[bytes],
) -> ImportJob:
    """Stores the file and reads its shape; the job then waits for its mapping."""
    target = import_target(object_type)
    name = clean_filename(filename or "import.csv")
    tenant = session_tenant(session)
    job_id = new_id()
    key = f"{tenant}/imports/{job_id}"
    remove_after_rollback(session.sync_session, [key])
    head = bytearray()
    written = await store.write(key, _captured(chunks, head), max_bytes=limits.max_bytes)
    shape = csv_format.sniff(io.BytesIO(bytes(head)))
    columns = unique_headers(shape.columns)
    definitions = await custom_field_repository.list_for(session, target.name)
    ctx = current_context()
    job = ImportJob(
        id=job_id,
        tenant_id=tenant,
        object_type=target.name,
        state="awaiting_mapping",
        filename=name,
        storage_key=key,
        size_bytes=written.size_bytes,
        delimiter=shape.delimiter,
        has_bom=shape.has_bom,
        data_offset=shape.data_offset,
        columns=columns,
        suggested_mapping=suggest(target, columns, definitions),
        preview=shape.preview,
        mapping={},
        mode="create",
        match_key="",
        rows_done=0,
        created_count=0,
        updated_count=0,
        failed_count=0,
        resume_offset=shape.data_offset,
        next_row_number=2,
        error="",
        created_by=ctx.user_id,
        actor_kind=ctx.actor_kind,
    )
    session.add(job)
    await session.flush()
    return job


async def get(session: AsyncSession, *, job_id: uuid.UUID, lock: bool = False) -> ImportJob:
    query = select(ImportJob).where(ImportJob.id == job_id)
    if lock:
        query = query.with_for_update()
    job = await session.scalar(query)
    if job is None:
        raise NotFound("import not found", code="import_not_found")
    return job


async def _may_update_every_record(session: AsyncSession, object_type: str) -> bool:
    """Whether the caller sees all records of the type (an import that updates matches
    against all of them): admins, owners, API keys, or a role without an `own` rule."""
    audience = audience_of(current_context())
    if audience.sees_all:
        return True
    if not audience.roles:
        return False
    own = await session.scalar(
        select(func.count())
        .select_from(RecordVisibilityRule)
        .where(
            RecordVisibilityRule.object_type == object_type,
            RecordVisibilityRule.visibility == VISIBILITY_OWN,
            RecordVisibilityRule.role.in_(audience.roles),
        )
    )
    return (own or 0) < len(audience.roles)


async def start(
    session: AsyncSession,
    *,
    job_id: uuid.UUID,
    fields: dict[str, str],
    mode: str,
    match_key: str,
) -> ImportJob:
    """Checks the mapping and queues the job for a worker."""
    job = await get(session, job_id=job_id, lock=True)
    if job.state != "awaiting_mapping":
        raise Conflict(f"the import is already {job.state}", code="import_already_started")
    target = import_target(job.object_type)
    definitions = await custom_field_repository.list_for(session, target.name)
    mapping = checked_mapping(
        target,
        headers=job.columns,
        fields=fields,
        mode=mode,
        match_key=match_key,
        definitions=definitions,
    )
    if mode != "create" and not await _may_update_every_record(session, target.name):
        raise PermissionDenied(
            f"you see only your own {target.name}: import them with mode create",
            code="role_not_allowed",
        )
    job.mapping = stored(mapping)
    job.mode = mapping.mode
    job.match_key = match_key if mode != "create" else ""
    job.state = "queued"
    session.add(ImportQueueEntry(job_id=job.id, tenant_id=job.tenant_id, attempts=0))
    await session.flush()
    return job


async def list_page(
    session: AsyncSession, *, limit: int, cursor: str, object_types: list[str]
) -> ImportPage:
    """The tenant's imports of the given types, newest first."""
    if not 0 <= limit <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            f"limit must be 1..{MAX_PAGE_SIZE}", code="invalid_limit", field="limit"
        )
    size = limit or DEFAULT_PAGE_SIZE
    query = (
        select(ImportJob)
        .where(ImportJob.object_type.in_(object_types))
        .order_by(ImportJob.created_at.desc(), ImportJob.id.desc())
        .limit(size + 1)
    )
    if cursor:
        query = query.where(
            tuple_(ImportJob.created_at, ImportJob.id) < tuple_(*decode_cursor(cursor))
        )
    jobs = list(await session.scalars(query))
    more = len(jobs) > size
    jobs = jobs[:size]
    last = jobs[-1] if more else None
    return ImportPage(jobs, encode_cursor(last.created_at, last.id) if last else "")


def completed_event(job: ImportJob) -> events.ImportCompleted:
    return events.ImportCompleted(
        import_id=str(job.id),
        object_type=job.object_type,
        state=job.state,
        rows_done=job.rows_done,
        created=job.created_count,
        updated=job.updated_count,
        failed=job.failed_count,
    )


async def cancel(session: AsyncSession, *, job_id: uuid.UUID) -> ImportJob:
    """Stops the job; a chunk being written finishes first (it holds the job's row)."""
    job = await get(session, job_id=job_id, lock=True)
    if job.state not in ACTIVE_STATES:
        raise Conflict(f"the import is already {job.state}", code="import_finished")
    job.state = "cancelled"
    job.finished_at = utcnow()
    await session.execute(delete(ImportQueueEntry).where(ImportQueueEntry.job_id == job.id))
    emit_completed(session, job)
    await session.flush()
    return job


def emit_completed(session: AsyncSession, job: ImportJob) -> None:
    """`crm_core.import.completed` for a job that ended (completed, failed, cancelled);
    the uploaded file is removed once that commits (its rows are imported or never will
    be, and customer data is not kept longer than it serves)."""
    remove_after_commit(session.sync_session, [job.storage_key])
    outbox.add(
        session,
        event_type="crm_core.import.completed",
        tenant_id=job.tenant_id,
        payload=completed_event(job),
    )


ERRORS_HEADER = ("row", "column", "reason")


def _csv_lines(rows: list[tuple[object, ...]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


async def error_report(session: AsyncSession, *, job: ImportJob) -> AsyncIterator[bytes]:
    """The job's problems as CSV (row, column, reason), in row order, page by page."""
    yield _csv_lines([ERRORS_HEADER])
    after = (-1, -1)
    while True:
        found = (
            await session.execute(
                select(
                    ImportRowError.row_number,
                    ImportRowError.position,
                    ImportRowError.column_name,
                    ImportRowError.reason,
                )
                .where(ImportRowError.job_id == job.id)
                .where(tuple_(ImportRowError.row_number, ImportRowError.position) > tuple_(*after))
                .order_by(ImportRowError.row_number, ImportRowError.position)
                .limit(ERRORS_PAGE)
            )
        ).all()
        if not found:
            return
        yield _csv_lines([(r.row_number, r.column_name, r.reason) for r in found])
        after = (found[-1].row_number, found[-1].position)
