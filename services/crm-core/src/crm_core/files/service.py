"""File use cases: attach streamed bytes to a record, read them back, list, delete."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

import filetype
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.files.blob_cleanup import remove_after_commit, remove_after_rollback
from crm_core.files.storage import FileStore
from crm_core.models import StoredFile
from crm_core.timeline.record_refs import RecordRef, require_record
from crm_kit.db.models import new_id
from crm_kit.db.session import session_tenant
from crm_kit.errors import InvalidArgument, NotFound

FALLBACK_CONTENT_TYPE = "application/octet-stream"
MAX_FILENAME = 255


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int


def clean_filename(name: str) -> str:
    """The name's last path part without control characters (never trusted further)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    if not kept or kept in {".", ".."}:
        raise InvalidArgument("a filename is required", code="invalid_filename", field="filename")
    return kept[:MAX_FILENAME]


def sniff(head: bytes) -> str:
    """The content type the bytes show; the client's declared type is never used."""
    kind = filetype.guess(head) if head else None
    return kind.mime if kind is not None else FALLBACK_CONTENT_TYPE


async def upload(
    session: AsyncSession,
    *,
    store: FileStore,
    limits: FileLimits,
    record: RecordRef,
    filename: str,
    chunks: AsyncIterable[bytes],
    created_by: uuid.UUID | None,
) -> StoredFile:
    """Streams the bytes into the store and records them; over the limit nothing stays."""
    name = clean_filename(filename)
    await require_record(session, record)
    file_id = new_id()
    key = f"{session_tenant(session)}/{file_id}"
    # Registered before the bytes land, so any failure from here on removes them.
    remove_after_rollback(session.sync_session, [key])
    written = await store.write(key, chunks, max_bytes=limits.max_bytes)
    stored = StoredFile(
        id=file_id,
        record_type=record.record_type,
        record_id=record.record_id,
        filename=name,
        content_type=sniff(written.head),
        size_bytes=written.size_bytes,
        sha256=written.sha256,
        storage_key=key,
        created_by=created_by,
    )
    session.add(stored)
    await session.flush()
    return stored


async def get(session: AsyncSession, *, file_id: uuid.UUID) -> StoredFile:
    found = await session.get(StoredFile, file_id)
    if found is None:
        raise NotFound("file not found", code="file_not_found")
    return found


def read(store: FileStore, stored: StoredFile) -> AsyncIterator[bytes]:
    return store.read(stored.storage_key)


async def list_for_record(session: AsyncSession, *, record: RecordRef) -> list[StoredFile]:
    """The record's files, newest first (an unknown record is 404)."""
    await require_record(session, record)
    found = await session.scalars(
        select(StoredFile)
        .where(StoredFile.record_type == record.record_type)
        .where(StoredFile.record_id == record.record_id)
        .order_by(StoredFile.created_at.desc(), StoredFile.id)
    )
    return list(found)


async def remove(session: AsyncSession, *, file_id: uuid.UUID) -> None:
    """Deletes the row now and the bytes once the transaction commits."""
    stored = await get(session, file_id=file_id)
    await session.delete(stored)
    await session.flush()
    remove_after_commit(session.sync_session, [stored.storage_key])
