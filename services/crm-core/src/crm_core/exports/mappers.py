"""Exports <-> protobuf, nothing else."""

from __future__ import annotations

from crm.crm_core.v1 import exports_pb2
from crm_core.engagements.mappers import task_filter
from crm_core.exports.query import ExportSelection
from crm_core.exports.service import DownloadLink, ExportRequest
from crm_core.models import ExportJob
from crm_core.records.mappers import search_from_proto
from crm_kit.timestamps import to_timestamp


def request_from_proto(message: exports_pb2.CreateExportRequest) -> ExportRequest:
    search = search_from_proto(message.search)
    items = task_filter(message.items, prefix="items.") if message.HasField("items") else None
    return ExportRequest(
        object_type=message.object_type,
        selection=ExportSelection(
            filter_groups=search.filter_groups, sorts=search.sorts, query=search.query, items=items
        ),
        columns=list(message.columns),
        byte_order_mark=message.byte_order_mark,
    )


def to_proto(job: ExportJob, link: DownloadLink | None = None) -> exports_pb2.Export:
    message = exports_pb2.Export(
        id=str(job.id),
        object_type=job.object_type,
        state=job.state,
        rows_written=job.rows_written,
        size_bytes=job.size_bytes,
        columns=job.columns,
        requested_by=str(job.requested_by) if job.requested_by else "",
        created_at=to_timestamp(job.created_at),
        error_code=job.error_code or "",
        error_message=job.error_message or "",
        attempts=job.attempts,
    )
    for name in ("started_at", "completed_at", "file_expires_at"):
        value = getattr(job, name)
        if value is not None:
            getattr(message, name).CopyFrom(to_timestamp(value))
    if link is not None:
        message.download_token = link.token
        message.download_expires_at.CopyFrom(to_timestamp(link.expires_at))
    return message
