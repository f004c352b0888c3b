"""`COPY (SELECT ...) TO STDOUT WITH CSV` as an async stream of byte chunks.

asyncpg hands COPY's output to a callback as it arrives; a small bounded queue turns
that into an iterator for the file store, so at most a few chunks are in memory
whatever the number of rows: when the store falls behind, the callback waits and
the socket stops being read (PostgreSQL then waits too).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from crm_core.exports.query import CompiledSelect

CHUNK_BYTES = 256 * 1024
QUEUE_CHUNKS = 4
BYTE_ORDER_MARK = "\ufeff".encode()


@dataclass
class CopyProgress:
    """Rows so far: newlines seen while running (a cell with a line break counts one
    more), the exact count from COPY's status once done."""

    rows: int = 0
    done: bool = False


def header_line(headers: list[str], *, byte_order_mark: bool) -> bytes:
    """The header row, quoted as COPY quotes rows (`\\n` line ends)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(headers)
    line = out.getvalue().encode()
    return BYTE_ORDER_MARK + line if byte_order_mark else line


async def copy_csv(
    connection: asyncpg.Connection, query: CompiledSelect, progress: CopyProgress
) -> AsyncIterator[bytes]:
    """The CSV rows of `query` in chunks of about CHUNK_BYTES."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
    pending = bytearray()

    async def sink(data: bytes) -> None:
        progress.rows += data.count(b"\n")
        pending.extend(data)
        if len(pending) >= CHUNK_BYTES:
            await queue.put(bytes(pending))
            pending.clear()

    async def produce() -> None:
        try:
            status = await connection.copy_from_query(
                query.sql, *query.args, output=sink, format="csv"
            )
            if pending:
                await queue.put(bytes(pending))
            progress.rows = int(status.split()[-1])
            progress.done = True
        finally:
            await queue.put(None)

    producer = asyncio.create_task(produce())
    try:
        while (chunk := await queue.get()) is not None:
            yield chunk
        await producer  # re-raises what stopped the COPY
    finally:
        if not producer.done():
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
