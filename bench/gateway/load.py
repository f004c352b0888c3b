"""The measurements: throughput at bounded concurrency, and paired one-at-a-time latencies
of the read through the gateway and the same read done directly against the database."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

import aiohttp
import asyncpg

from crm_kit.db.driver_reads import begin_for_tenant

# What crm-core's read of one contact loads (the columns `select(Contact)` loads: all
# but the deferred search columns; and its company ids, primary first), filtered as
# its ORM filter and RLS do.
CONTACT_SQL = """
SELECT id, tenant_id, first_name, last_name, email, phone, phone_e164, owner_id,
       created_by, updated_by, version, custom_fields, created_at, updated_at, external_id,
       (SELECT array_agg(company_id ORDER BY is_primary DESC, company_id)
        FROM contact_companies
        WHERE contact_companies.contact_id = contacts.id
          AND contact_companies.tenant_id = $2) AS company_ids
FROM contacts WHERE contacts.id = $1 AND contacts.tenant_id = $2
"""


class BenchError(RuntimeError):
    """A read that did not succeed: the figures would measure errors, not reads."""


def percentile(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


async def fetch_as_tenant(
    connection: asyncpg.Connection, tenant_id: str, sql: str, *args: Any
) -> list[asyncpg.Record]:
    """A query as crm-core's runtime role runs it: one transaction with the tenant set
    for RLS (prepared statements, as SQLAlchemy's)."""
    async with connection.transaction():
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant_id)
        rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
    return rows


def client(base_url: str, *, concurrency: int) -> aiohttp.ClientSession:
    """A keep-alive HTTP client. aiohttp rather than httpx: httpx spends about 0.6 ms of
    its own per request here, which would be billed to the gateway as overhead."""
    return aiohttp.ClientSession(
        base_url,
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=10),
    )


async def get_ok(http: aiohttp.ClientSession, path: str, headers: dict[str, str]) -> None:
    async with http.get(path, headers=headers) as response:
        body = await response.read()
        if response.status != 200:
            raise BenchError(f"GET {response.url}: {response.status} {body[:500]!r}")


async def throughput(
    http: aiohttp.ClientSession,
    path: str,
    headers: dict[str, str],
    *,
    requests: int,
    concurrency: int,
) -> float:
    """Requests per second for `requests` GETs with at most `concurrency` in flight."""
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await get_ok(http, path, headers)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started)


async def driver_read_as_tenant(
    connection: asyncpg.Connection, tenant_id: str, sql: str, *args: Any
) -> list[asyncpg.Record]:
    """A query as crm-core's driver reads (`crm_kit.db.driver_reads.tenant_read`) run it:
    BEGIN READ ONLY with the tenant set in one round trip, the prepared query, COMMIT."""
    await connection.execute(begin_for_tenant(uuid.UUID(tenant_id)))
    try:
        rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
    except BaseException:
        await connection.execute("ROLLBACK")
        raise
    await connection.execute("COMMIT")
    return rows


class DirectRead:
    """The contact read as crm-core's runtime role does it: one read-only transaction
    with the tenant set for RLS, then the row by id (a prepared statement), as
    `crm_kit.db.driver_reads.tenant_read` does for crm-core's GetContact."""

    def __init__(self, connection: asyncpg.Connection, *, tenant_id: str, contact_id: str):
        self._connection = connection
        self._tenant_id = tenant_id
        self._key = (uuid.UUID(contact_id), uuid.UUID(tenant_id))

    async def __call__(self) -> None:
        rows = await driver_read_as_tenant(
            self._connection, self._tenant_id, CONTACT_SQL, *self._key
        )
        if not rows:
            raise BenchError("the contact is not visible to the runtime role")


async def paired_latencies(
    http: aiohttp.ClientSession,
    path: str,
    headers: dict[str, str],
    direct: DirectRead,
    *,
    pairs: int,
) -> tuple[list[float], list[float]]:
    """Milliseconds of (gateway read, direct read), alternating one at a time."""
    through_gateway: list[float] = []
    directly: list[float] = []
    for _ in range(pairs):
        started = time.perf_counter()
        await get_ok(http, path, headers)
        middle = time.perf_counter()
        await direct()
        through_gateway.append((middle - started) * 1000)
        directly.append((time.perf_counter() - middle) * 1000)
    return through_gateway, directly
