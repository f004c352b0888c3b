"""Export use cases: queue a job (checked now), read jobs, open a download."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.engagements.items import newest_first
from crm_core.engagements.tasks import TaskFilter
from crm_core.exports import links
from crm_core.exports.plan import plan_export
from crm_core.exports.query import ExportSelection
from crm_core.models import ExportJob, ExportQueueEntry
from crm_core.permissions.visibility import EVERYONE, Audience
from crm_core.queries.filters import Filter
from crm_core.queries.sorting import Sort
from crm_core.timeline.record_refs import RecordRef
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import session_tenant
from crm_kit.errors import PreconditionFailed

LINK_SECRET_BYTES = 32


@dataclass(frozen=True)
class ExportRequest:
    object_type: str
    selection: ExportSelection
    columns: list[str]
    byte_order_mark: bool = False


@dataclass(frozen=True)
class Requester:
    """Who asked: the worker applies this audience's visibility to the rows."""

    user_id: uuid.UUID | None
    kind: str
    roles: tuple[str, ...]
    audience: Audience


@dataclass(frozen=True)
class DownloadLink:
    token: str
    expires_at: datetime


def _selection_json(selection: ExportSelection) -> dict[str, Any]:
    return {
        "filter_groups": [
            [
                {
                    "field": f.field,
                    "operator": f.operator,
                    "value": f.value,
                    "values": f.values,
                    "has_value": f.has_value,
                }
                for f in group
            ]
            for group in selection.filter_groups
        ],
        "sorts": [{"field": s.field, "direction": s.direction} for s in selection.sorts],
        "query": selection.query,
        "items": None if selection.items is None else _items_json(selection.items),
    }


def _items_json(items: TaskFilter) -> dict[str, Any]:
    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return {
        "record": None
        if items.record is None
        else [items.record.record_type, text(items.record.record_id)],
        "assignee_id": text(items.assignee_id),
        "statuses": list(items.statuses),
        "due_before": None if items.due_before is None else items.due_before.isoformat(),
        "due_after": None if items.due_after is None else items.due_after.isoformat(),
    }


def _stored_items(raw: dict[str, Any] | None) -> TaskFilter | None:
    if raw is None:
        return None

    def time(value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    record = raw["record"]
    return TaskFilter(
        record=None if record is None else RecordRef(record[0], uuid.UUID(record[1])),
        assignee_id=None if raw["assignee_id"] is None else uuid.UUID(raw["assignee_id"]),
        statuses=tuple(raw["statuses"]),
        due_before=time(raw["due_before"]),
        due_after=time(raw["due_after"]),
    )


def stored_selection(job: ExportJob) -> ExportSelection:
    raw = job.request
    return ExportSelection(
        filter_groups=[[Filter(**f) for f in group] for group in raw["filter_groups"]],
        sorts=[Sort(**s) for s in raw["sorts"]],
        query=raw["query"],
        items=_stored_items(raw.get("items")),
    )


async def create(
    session: AsyncSession, *, request: ExportRequest, requester: Requester
) -> ExportJob:
    """Queues the export once its type, columns, filters and sorts check out."""
    tenant = session_tenant(session)
    # Planning checks the request exactly as the worker will run it.
    plan = await plan_export(
        session,
        object_type=request.object_type,
        selection=request.selection,
        names=request.columns,
        audience=requester.audience,
        tenant=tenant,
    )
    job = ExportJob(
        id=new_id(),
        object_type=request.object_type,
        state="queued",
        request={
            **_selection_json(request.selection),
            "columns": plan.names,
            "byte_order_mark": request.byte_order_mark,
        },
        columns=[c.header for c in plan.columns],
        requested_by=requester.user_id,
        requester_kind=requester.kind,
        requester_roles=list(requester.roles),
        rows_written=0,
        size_bytes=0,
        attempts=0,
        link_secret=secrets.token_bytes(LINK_SECRET_BYTES),
    )
    session.add(job)
    session.add(ExportQueueEntry(job_id=job.id, tenant_id=tenant, due_at=utcnow()))
    await session.flush()
    return job


def _visible_to(audience: Audience) -> ColumnElement[bool]:
    """A job's file holds what its requester could see: others read it only if they see
    everything (owners, admins, API keys), never a teammate limited to their own records."""
    if audience.sees_all:
        return true()
    return ExportJob.requested_by == audience.user_id


async def get(session: AsyncSession, *, job_id: uuid.UUID, audience: Audience) -> ExportJob:
    job = await session.scalar(
        select(ExportJob).where(ExportJob.id == job_id, _visible_to(audience))
    )
    if job is None:
        raise links.not_found()
    return job


async def list_page(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str,
    object_types: Collection[str],
    audience: Audience,
) -> tuple[list[ExportJob], str]:
    """The exports of `object_types` the audience may read, newest first, and the next
    cursor."""
    query = select(ExportJob).where(
        ExportJob.object_type.in_(list(object_types)), _visible_to(audience)
    )
    page = await newest_first(
        session, query, at=ExportJob.created_at, id_=ExportJob.id, limit=limit, cursor=cursor
    )
    return page.items, page.next_cursor


def download_link(job: ExportJob, *, lifetime: timedelta) -> DownloadLink | None:
    """A fresh link for a completed job's file (None while there is no file)."""
    if job.state != "completed":
        return None
    expires_at = utcnow() + lifetime
    token = links.sign(
        job.link_secret, job_id=job.id, tenant_id=job.tenant_id, expires_at=expires_at
    )
    return DownloadLink(token, expires_at)


async def open_download(session: AsyncSession, *, job_id: uuid.UUID, token: str) -> ExportJob:
    """The job a valid, unexpired link names; a bad link is 404, an expired one 410.
    The link is the authorization: whoever could read the job was given it."""
    job = await get(session, job_id=job_id, audience=EVERYONE)
    claims = links.verify(job.link_secret, token, job_id=job.id)
    if claims.expires_at <= utcnow():
        raise PreconditionFailed(
            "this download link has expired; get the export again for a new one",
            code="link_expired",
        )
    if job.state != "completed" or job.storage_key is None:
        raise PreconditionFailed(
            "the export's file was deleted; export again", code="export_file_expired"
        )
    return job
