"""Files stream into the store with a sniffed type and hash, stay in their tenant,
stop at the size limit leaving nothing, and go with their record."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.contacts import service as contacts
from crm_core.files import service as files
from crm_core.files.blob_cleanup import use_store
from crm_core.files.service import FileLimits
from crm_core.files.storage import LocalDiskStore
from crm_core.merges import service as merges
from crm_core.models import StoredFile
from crm_core.timeline.record_refs import RecordRef
from crm_kit.db.session import unit_of_work
from crm_kit.errors import NotFound, QuotaExceeded

from ..contacts.factories import create_contact

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
LIMITS = FileLimits(max_bytes=1024)


@pytest.fixture
def store(tmp_path: Path) -> LocalDiskStore:
    store = LocalDiskStore(tmp_path)
    use_store(store)
    return store


async def chunks(data: bytes, size: int = 64) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def contact_ref(factory: Factory, tenant: uuid.UUID) -> RecordRef:
    contact = await create_contact(factory, tenant=tenant, email=f"{uuid.uuid4().hex}@x.example")
    return RecordRef("contacts", contact.id)


async def upload(
    factory: Factory,
    store: LocalDiskStore,
    *,
    tenant: uuid.UUID,
    record: RecordRef,
    data: bytes = PNG,
    filename: str = "../logo.txt",
) -> StoredFile:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        return await files.upload(
            session,
            store=store,
            limits=LIMITS,
            record=record,
            filename=filename,
            chunks=chunks(data),
            created_by=None,
        )


async def downloaded(
    factory: Factory, store: LocalDiskStore, *, tenant: uuid.UUID, file_id: uuid.UUID
) -> bytes:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        stored = await files.get(session, file_id=file_id)
    return b"".join([part async for part in files.read(store, stored)])


def blobs(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


class TestUpload:
    async def test_round_trip_keeps_bytes_sniffs_type_and_hashes(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        record = await contact_ref(factory, tenant)

        stored = await upload(factory, store, tenant=tenant, record=record)

        assert stored.content_type == "image/png"  # not the name's .txt
        assert stored.filename == "logo.txt"
        assert stored.size_bytes == len(PNG)
        assert stored.sha256 == hashlib.sha256(PNG).hexdigest()
        assert await downloaded(factory, store, tenant=tenant, file_id=stored.id) == PNG

    async def test_unknown_bytes_are_octet_stream(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        record = await contact_ref(factory, tenant)

        stored = await upload(factory, store, tenant=tenant, record=record, data=b"plain words")

        assert stored.content_type == "application/octet-stream"

    async def test_over_the_limit_leaves_no_row_and_no_bytes(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID, tmp_path: Path
    ) -> None:
        record = await contact_ref(factory, tenant)

        with pytest.raises(QuotaExceeded):
            await upload(factory, store, tenant=tenant, record=record, data=bytes(2000))

        assert blobs(tmp_path) == []
        async with unit_of_work(factory, tenant_id=tenant) as session:
            assert await files.list_for_record(session, record=record) == []

    async def test_another_tenants_record_is_not_found(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        record = await contact_ref(factory, other_tenant)

        with pytest.raises(NotFound):
            await upload(factory, store, tenant=tenant, record=record)


class TestTenantIsolation:
    async def test_another_tenants_file_is_not_found(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        stored = await upload(
            factory, store, tenant=tenant, record=await contact_ref(factory, tenant)
        )

        with pytest.raises(NotFound):
            await downloaded(factory, store, tenant=other_tenant, file_id=stored.id)


class TestDeletion:
    async def test_deleting_a_file_removes_row_and_bytes(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID, tmp_path: Path
    ) -> None:
        stored = await upload(
            factory, store, tenant=tenant, record=await contact_ref(factory, tenant)
        )

        async with unit_of_work(factory, tenant_id=tenant) as session:
            await files.remove(session, file_id=stored.id)

        assert blobs(tmp_path) == []
        with pytest.raises(NotFound):
            await downloaded(factory, store, tenant=tenant, file_id=stored.id)

    async def test_deleting_the_record_deletes_its_files(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID, tmp_path: Path
    ) -> None:
        record = await contact_ref(factory, tenant)
        stored = await upload(factory, store, tenant=tenant, record=record)

        async with unit_of_work(factory, tenant_id=tenant) as session:
            await contacts.delete(session, contact_id=record.record_id)

        assert blobs(tmp_path) == []
        with pytest.raises(NotFound):
            await downloaded(factory, store, tenant=tenant, file_id=stored.id)

    async def test_a_rolled_back_record_deletion_keeps_the_bytes(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        record = await contact_ref(factory, tenant)
        stored = await upload(factory, store, tenant=tenant, record=record)

        async def delete_then_fail() -> None:
            async with unit_of_work(factory, tenant_id=tenant) as session:
                await contacts.delete(session, contact_id=record.record_id)
                raise RuntimeError("abandon")

        with pytest.raises(RuntimeError):
            await delete_then_fail()

        assert await downloaded(factory, store, tenant=tenant, file_id=stored.id) == PNG


class TestMerge:
    async def test_a_merged_records_files_move_to_the_survivor(
        self, factory: Factory, store: LocalDiskStore, tenant: uuid.UUID
    ) -> None:
        survivor = await contact_ref(factory, tenant)
        merged = await contact_ref(factory, tenant)
        stored = await upload(factory, store, tenant=tenant, record=merged)

        async with unit_of_work(factory, tenant_id=tenant) as session:
            await merges.merge(
                session,
                object_type="contacts",
                survivor_id=survivor.record_id,
                merged_id=merged.record_id,
            )

        async with unit_of_work(factory, tenant_id=tenant) as session:
            moved = await files.list_for_record(session, record=survivor)
        assert [f.id for f in moved] == [stored.id]
        assert await downloaded(factory, store, tenant=tenant, file_id=stored.id) == PNG
