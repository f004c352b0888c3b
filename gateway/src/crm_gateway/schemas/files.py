"""Response bodies of files on records."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from crm_gateway.schemas import ApiModel
from crm_gateway.schemas.engagements import RecordType


class StoredFile(ApiModel):
    id: str
    record_type: RecordType
    record_id: str
    filename: str
    content_type: str = Field(description="Sniffed from the bytes, never the client's claim")
    size_bytes: int
    sha256: str = Field(description="Hex SHA-256 of the bytes")
    created_by: str | None
    created_at: datetime


class FileList(ApiModel):
    data: list[StoredFile]
