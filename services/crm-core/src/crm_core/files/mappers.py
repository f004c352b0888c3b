"""Files <-> protobuf, nothing else."""

from __future__ import annotations

from crm.crm_core.v1 import engagements_pb2, files_pb2
from crm_core.models import StoredFile
from crm_core.timeline.record_refs import RecordRef, parse_ref
from crm_kit.errors import InvalidArgument


def record_from_proto(record: engagements_pb2.RecordRef) -> RecordRef:
    return parse_ref(record.record_type, record.record_id)


def upload_start(first: files_pb2.UploadFileChunk | None) -> files_pb2.UploadFileStart:
    if first is None or first.WhichOneof("part") != "start":
        raise InvalidArgument(
            "the first message must name the record and filename", code="upload_start_missing"
        )
    return first.start


def to_proto(stored: StoredFile) -> files_pb2.File:
    message = files_pb2.File(
        id=str(stored.id),
        record=engagements_pb2.RecordRef(
            record_type=stored.record_type, record_id=str(stored.record_id)
        ),
        filename=stored.filename,
        content_type=stored.content_type,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        created_by=str(stored.created_by) if stored.created_by else "",
    )
    message.created_at.FromDatetime(stored.created_at)
    return message
