"""Where file bytes live. Local disk by default; S3-compatible storage is not built yet.

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
from typing import Protocol

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
