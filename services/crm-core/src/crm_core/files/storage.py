"""Where file bytes live: local disk by default, S3-compatible object storage by configuration.

A store never decides what a file is: it writes bytes under a key, counting and hashing
them as they stream, and refuses (leaving nothing behind) once they pass `max_bytes`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from crm_kit.errors import QuotaExceeded

SNIFF_BYTES = 8192
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class WrittenBlob:
    size_bytes: int
    sha256: str
    head: bytes  # the first bytes, for sniffing the content type


class FileStore(Protocol):
    async def write(
        self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int
    ) -> WrittenBlob: ...

    def read(self, key: str) -> AsyncIterator[bytes]: ...

    def remove(self, key: str) -> None:
        """Removes the blob if present (sync: it also runs in after-commit hooks)."""
        ...


class LocalDiskStore:
    """Blobs as files under `root`, written to a temp file then renamed into place."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if self._root.resolve() not in path.parents:
            raise ValueError("storage key escapes the store root")
        return path

    async def write(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int) -> WrittenBlob:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        head = b""
        size = 0
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise QuotaExceeded(
                            f"a file may have at most {max_bytes} bytes", code="file_too_large"
                        )
                    if len(head) < SNIFF_BYTES:
                        head += chunk[: SNIFF_BYTES - len(head)]
                    digest.update(chunk)
                    await asyncio.to_thread(out.write, chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return WrittenBlob(size_bytes=size, sha256=digest.hexdigest(), head=head)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        with self._path(key).open("rb") as source:
            while chunk := await asyncio.to_thread(source.read, READ_CHUNK):
                yield chunk

    def remove(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Store:
    """Blobs as objects in an S3-compatible bucket.

    Uploads are spooled to a local temp file while they are counted and hashed, so nothing
    reaches the bucket unless the whole upload is within `max_bytes`; the object is then
    uploaded in one go (multipart above `multipart_threshold`) and the temp file removed.
    A missing object reads as `FileNotFoundError`, as with `LocalDiskStore`.
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        multipart_threshold: int = 16 * 1024 * 1024,
        client: Any = None,
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._client: Any = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_threshold
        )

    def _object_key(self, key: str) -> str:
        parts = key.split("/")
        if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError("storage key escapes the store root")
        return f"{self._prefix}/{key}" if self._prefix else key

    async def write(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int) -> WrittenBlob:
        object_key = self._object_key(key)
        digest = hashlib.sha256()
        head = b""
        size = 0
        with tempfile.TemporaryFile(prefix="crm-upload-") as spool:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise QuotaExceeded(
                        f"a file may have at most {max_bytes} bytes", code="file_too_large"
                    )
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                digest.update(chunk)
                await asyncio.to_thread(spool.write, chunk)
            spool.seek(0)
            await asyncio.to_thread(self._upload, spool, object_key)
        return WrittenBlob(size_bytes=size, sha256=digest.hexdigest(), head=head)

    def _upload(self, source: IO[bytes], object_key: str) -> None:
        # upload_fileobj aborts a failed multipart upload, so no parts are left behind.
        self._client.upload_fileobj(source, self._bucket, object_key, Config=self._transfer)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        object_key = self._object_key(key)
        try:
            response = await asyncio.to_thread(
                self._client.get_object, Bucket=self._bucket, Key=object_key
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING_CODES:
                raise FileNotFoundError(key) from error
            raise
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, READ_CHUNK):
                yield chunk
        finally:
            body.close()

    def remove(self, key: str) -> None:
        # S3 deletes are idempotent: a missing object is not an error. Other failures
        # surface as OSError, which the after-commit cleanup logs (as for local disk).
        try:
            self._client.delete_object(Bucket=self._bucket, Key=self._object_key(key))
        except (BotoCoreError, ClientError) as error:
            raise OSError(f"could not remove {key} from the bucket: {error}") from error
