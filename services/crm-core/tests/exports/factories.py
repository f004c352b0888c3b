"""Export jobs queued and run to the end, and their CSV read back with a real parser."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.engagements.tasks import TaskFilter
from crm_core.exports import service as exports
from crm_core.exports.query import ExportSelection
from crm_core.exports.service import ExportRequest, Requester
from crm_core.exports.worker import ExportWorker
from crm_core.models import ExportJob
from crm_core.permissions.visibility import EVERYONE, Audience
from crm_core.queries.filters import Filter
from crm_core.queries.sorting import Sort
from crm_kit.db.session import unit_of_work

Factory = async_sessionmaker[AsyncSession]
ADMIN = Requester(uuid.uuid4(), "user", ("admin",), EVERYONE)


def requester_for(user: uuid.UUID, *roles: str) -> Requester:
    return Requester(user, "user", roles, Audience(user, roles, sees_all=False))


async def queue_export(
    factory: Factory,
    *,
    tenant: uuid.UUID,
    object_type: str = "contacts",
    filters: list[Filter] | None = None,
    sorts: list[Sort] | None = None,
    columns: list[str] | None = None,
    requester: Requester = ADMIN,
    byte_order_mark: bool = False,
    items: TaskFilter | None = None,
    query: str = "",
) -> ExportJob:
    selection = ExportSelection(
        filter_groups=[filters] if filters else [], sorts=sorts or [], query=query, items=items
    )
    request = ExportRequest(object_type, selection, columns or [], byte_order_mark)
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await exports.create(session, request=request, requester=requester)


async def run_all(worker: ExportWorker) -> None:
    while await worker.run_once():
        pass


async def job_of(factory: Factory, *, tenant: uuid.UUID, job_id: uuid.UUID) -> ExportJob:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await exports.get(session, job_id=job_id, audience=EVERYONE)


async def export_rows(
    factory: Factory, worker: ExportWorker, root: Path, *, tenant: uuid.UUID, **kwargs: object
) -> list[dict[str, str]]:
    """Queues an export, runs the worker and reads the completed job's file."""
    job = await queue_export(factory, tenant=tenant, **kwargs)  # type: ignore[arg-type]
    await run_all(worker)
    done = await job_of(factory, tenant=tenant, job_id=job.id)
    assert done.state == "completed", done.error_message
    return read_csv(root, done)


def read_csv(root: Path, job: ExportJob) -> list[dict[str, str]]:
    assert job.storage_key is not None
    text = (root / job.storage_key).read_bytes().decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def files_under(root: Path, pattern: str) -> list[Path]:
    return list(root.rglob(pattern))
