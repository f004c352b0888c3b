"""Small typed helpers for import tests: upload a CSV, start it, run the worker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.files.storage import FileStore
from crm_core.imports import service as imports
from crm_core.imports.service import ImportLimits
from crm_core.imports.worker import ImportWorker
from crm_core.models import ImportJob
from crm_kit.context import RequestContext, bind_context
from crm_kit.db.session import unit_of_work

Factory = async_sessionmaker[AsyncSession]
LIMITS = ImportLimits(max_bytes=10 * 1024 * 1024)


def admin(tenant: uuid.UUID, *, user: uuid.UUID | None = None) -> RequestContext:
    return RequestContext(
        tenant_id=tenant, user_id=user or uuid.uuid4(), roles=("admin",), actor_kind="user"
    )


async def chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def upload(
    factory: Factory,
    store: FileStore,
    *,
    tenant: uuid.UUID,
    data: bytes,
    object_type: str = "contacts",
    context: RequestContext | None = None,
) -> ImportJob:
    with bind_context(context or admin(tenant)):
        async with unit_of_work(factory, tenant_id=tenant) as session:
            return await imports.upload(
                session,
                store=store,
                limits=LIMITS,
                object_type=object_type,
                filename="people.csv",
                chunks=chunks(data),
            )


async def start(
    factory: Factory,
    *,
    tenant: uuid.UUID,
    job: ImportJob,
    mapping: dict[str, str] | None = None,
    mode: str = "create",
    match_key: str = "",
    context: RequestContext | None = None,
) -> ImportJob:
    with bind_context(context or admin(tenant)):
        async with unit_of_work(factory, tenant_id=tenant) as session:
            return await imports.start(
                session,
                job_id=job.id,
                fields=mapping if mapping is not None else job.suggested_mapping,
                mode=mode,
                match_key=match_key,
            )


async def drain(worker: ImportWorker) -> None:
    """Claims and processes jobs until none is left to claim."""
    while (claim := await worker.claim()) is not None:
        await worker.process(claim)


async def reload(factory: Factory, *, tenant: uuid.UUID, job_id: uuid.UUID) -> ImportJob:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await imports.get(session, job_id=job_id)


async def imported(
    factory: Factory, store: FileStore, *, tenant: uuid.UUID, data: bytes, **start_args: object
) -> ImportJob:
    """Upload, start with the suggested mapping (or the one given) and run to the end."""
    job = await upload(factory, store, tenant=tenant, data=data)
    await start(factory, tenant=tenant, job=job, **start_args)  # type: ignore[arg-type]
    await drain(ImportWorker(factory, store, chunk_rows=3, poll_seconds=0.01))
    return await reload(factory, tenant=tenant, job_id=job.id)


async def error_rows(factory: Factory, *, tenant: uuid.UUID, job: ImportJob) -> list[str]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        parts = [part async for part in imports.error_report(session, job=job)]
    return b"".join(parts).decode().splitlines()


async def expire_lease(factory: Factory, *, job_id: uuid.UUID) -> None:
    """As if the worker holding the job's lease had died: the lease lapses now."""
    async with unit_of_work(factory, tenant_id=None) as session:
        await session.execute(
            text(
                "UPDATE import_queue SET leased_until = now() - interval '1 second' "
                "WHERE job_id = :job_id"
            ),
            {"job_id": job_id},
        )
