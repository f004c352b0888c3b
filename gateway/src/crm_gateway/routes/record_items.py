"""What the activity, task and note routes share: record references, item metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm.crm_core.v1 import engagements_pb2 as pb
from crm_gateway.problems import Problem
from crm_gateway.schemas.engagements import RecordRef
from crm_kit.timestamps import to_datetime

RECORD_FILTER = (
    "Only items attached to this record, as `<record_type>:<id>` "
    "(e.g. `contacts:5b0c5c1e-...`); another tenant's record answers 404."
)
RECORD_TYPES = ("contacts", "companies", "leads", "deals")


def refs_to_proto(refs: list[RecordRef]) -> list[pb.RecordRef]:
    return [pb.RecordRef(record_type=r.record_type, record_id=r.record_id) for r in refs]


def record_param(value: str | None, *, field: str = "record") -> pb.RecordRef | None:
    """`contacts:<id>` from a query string or body; a malformed one is a 422 naming `field`."""
    if value is None:
        return None
    record_type, _, record_id = value.partition(":")
    if record_type not in RECORD_TYPES or not record_id:
        raise Problem(
            422,
            "invalid_record",
            f"{field} is <record_type>:<id>, record_type one of " + ", ".join(RECORD_TYPES),
            errors=[{"field": field, "message": "expected <record_type>:<id>"}],
        )
    return pb.RecordRef(record_type=record_type, record_id=record_id)


def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def meta_fields(meta: pb.ItemMeta) -> dict[str, Any]:
    """The ItemMeta fields of a response model."""
    return {
        "id": meta.id,
        "records": [
            RecordRef(record_type=r.record_type, record_id=r.record_id) for r in meta.records
        ],
        "owner_id": meta.owner_id or None,
        "created_by": meta.created_by or None,
        "updated_by": meta.updated_by or None,
        "version": meta.version,
        "created_at": to_datetime(meta.created_at),
        "updated_at": to_datetime(meta.updated_at),
    }
