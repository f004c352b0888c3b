"""The S3 store against moto's S3 server: the same contract as the local disk store."""

from __future__ import annotations

import hashlib
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from crm_core.files.configured import build_store
from crm_core.files.storage import LocalDiskStore, S3Store
from crm_core.settings import CrmCoreSettings
from crm_kit.errors import QuotaExceeded

pytestmark = pytest.mark.integration

REGION = "us-east-1"
KEY_ID = "testing"
SECRET = "testing"  # moto accepts any credentials


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(endpoint: str) -> str:
    name = f"crm-files-{uuid.uuid4().hex[:12]}"
    _client(endpoint).create_bucket(Bucket=name)
    return name


def _client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


@pytest.fixture
def store(endpoint: str, bucket: str) -> S3Store:
    return S3Store(
        bucket,
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
        multipart_threshold=5 * 1024 * 1024,
    )


def object_keys(endpoint: str, bucket: str) -> list[str]:
    listing = _client(endpoint).list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def multipart_uploads(endpoint: str, bucket: str) -> list[Any]:
    return list(_client(endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads", []))


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(store: S3Store, key: str) -> bytes:
    return b"".join([part async for part in store.read(key)])


def payload(size: int) -> bytes:
    return (hashlib.sha256(b"seed").digest() * (size // 32 + 1))[:size]


async def test_round_trip_keeps_bytes_size_hash_and_head(store: S3Store) -> None:
    data = b"\x89PNG\r\n\x1a\n" + payload(20_000)
    key = f"{uuid.uuid4()}/{uuid.uuid4()}"

    written = await store.write(key, chunks(data, 1000), max_bytes=len(data))

    assert written.size_bytes == len(data)
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert written.head == data[:8192]
    assert await read_all(store, key) == data


async def test_large_upload_goes_multipart_and_reads_back(
    store: S3Store, endpoint: str, bucket: str
) -> None:
    data = payload(11 * 1024 * 1024)  # above the 5 MiB threshold: three parts
    key = f"{uuid.uuid4()}/{uuid.uuid4()}"

    written = await store.write(key, chunks(data), max_bytes=len(data))

    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(store, key) == data
    assert multipart_uploads(endpoint, bucket) == []


async def test_over_the_limit_leaves_no_object(store: S3Store, endpoint: str, bucket: str) -> None:
    key = f"{uuid.uuid4()}/{uuid.uuid4()}"

    with pytest.raises(QuotaExceeded):
        await store.write(key, chunks(payload(5000), 100), max_bytes=4999)

    assert object_keys(endpoint, bucket) == []
    assert multipart_uploads(endpoint, bucket) == []


async def test_remove_deletes_and_tolerates_a_missing_object(
    store: S3Store, endpoint: str, bucket: str
) -> None:
    key = f"{uuid.uuid4()}/{uuid.uuid4()}"
    await store.write(key, chunks(b"bytes"), max_bytes=100)
    assert object_keys(endpoint, bucket) == [key]

    store.remove(key)
    store.remove(key)

    assert object_keys(endpoint, bucket) == []


def test_a_failed_remove_is_an_os_error_for_the_cleanup_hook(endpoint: str) -> None:
    store = S3Store(
        "no-such-bucket",
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
    )
    with pytest.raises(OSError, match="could not remove"):
        store.remove("a/b")


async def test_reading_a_missing_key_raises_like_the_local_store(
    store: S3Store, tmp_path: Path
) -> None:
    key = f"{uuid.uuid4()}/{uuid.uuid4()}"

    with pytest.raises(FileNotFoundError):
        await read_all(store, key)
    with pytest.raises(FileNotFoundError):
        b"".join([part async for part in LocalDiskStore(tmp_path).read(key)])


async def test_prefix_namespaces_the_objects(endpoint: str, bucket: str) -> None:
    store = S3Store(
        bucket,
        prefix="crm/files/",
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
    )
    key = f"{uuid.uuid4()}/{uuid.uuid4()}"
    await store.write(key, chunks(b"abc"), max_bytes=10)

    assert object_keys(endpoint, bucket) == [f"crm/files/{key}"]
    assert await read_all(store, key) == b"abc"


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "..", "a/./b"])
async def test_keys_that_could_escape_are_refused(store: S3Store, key: str) -> None:
    with pytest.raises(ValueError, match="escapes"):
        await store.write(key, chunks(b"x"), max_bytes=10)


def test_settings_choose_s3_when_a_bucket_is_set(endpoint: str, bucket: str) -> None:
    settings = CrmCoreSettings(
        files_s3_bucket=bucket,
        files_s3_endpoint_url=endpoint,
        files_s3_region=REGION,
        files_s3_access_key_id=KEY_ID,
        files_s3_secret_access_key=SecretStr(SECRET),
    )
    assert isinstance(build_store(settings), S3Store)


def test_settings_choose_s3_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, bucket: str
) -> None:
    monkeypatch.setenv("CRM_CORE_FILES_S3_BUCKET", bucket)
    monkeypatch.setenv("CRM_CORE_FILES_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("CRM_CORE_FILES_S3_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("CRM_CORE_FILES_S3_SECRET_ACCESS_KEY", "not-in-the-repr")
    settings = CrmCoreSettings()
    assert settings.files_s3_bucket == bucket
    assert isinstance(build_store(settings), S3Store)
    assert "not-in-the-repr" not in repr(settings)


def test_settings_refuse_half_a_credential_pair() -> None:
    with pytest.raises(ValueError, match="together"):
        CrmCoreSettings(files_s3_bucket="b", files_s3_secret_access_key=SecretStr(SECRET))


def test_settings_choose_local_disk_without_a_bucket(tmp_path: Path) -> None:
    store = build_store(CrmCoreSettings(files_root=tmp_path, files_s3_bucket=None))
    assert isinstance(store, LocalDiskStore)
