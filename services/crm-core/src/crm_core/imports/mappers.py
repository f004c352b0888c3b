"""ImportJob <-> proto, nothing else."""

from __future__ import annotations

from crm.crm_core.v1 import imports_pb2
from crm_core.models import ImportJob
from crm_kit.errors import InvalidArgument
from crm_kit.timestamps import to_timestamp


def upload_start(message: imports_pb2.UploadImportChunk | None) -> imports_pb2.UploadImportStart:
    if message is None or message.WhichOneof("part") != "start":
        raise InvalidArgument(
            "the first message must name the object type and the file", code="bad_chunk"
        )
    return message.start


def to_proto(job: ImportJob) -> imports_pb2.ImportJob:
    message = imports_pb2.ImportJob(
        id=str(job.id),
        object_type=job.object_type,
        state=job.state,
        filename=job.filename,
        size_bytes=job.size_bytes,
        delimiter=job.delimiter,
        columns=job.columns,
        suggested_mapping=job.suggested_mapping,
        preview=[imports_pb2.PreviewRow(cells=row) for row in job.preview],
        mapping=job.mapping.get("fields", {}),
        mode=job.mode if job.state != "awaiting_mapping" else "",
        match_key=job.match_key,
        rows_done=job.rows_done,
        created=job.created_count,
        updated=job.updated_count,
        failed=job.failed_count,
        error=job.error,
        created_by=str(job.created_by) if job.created_by else "",
        created_at=to_timestamp(job.created_at),
    )
    if job.rows_total is not None:
        message.rows_total = job.rows_total
    if job.started_at is not None:
        message.started_at.CopyFrom(to_timestamp(job.started_at))
    if job.finished_at is not None:
        message.finished_at.CopyFrom(to_timestamp(job.finished_at))
    return message
