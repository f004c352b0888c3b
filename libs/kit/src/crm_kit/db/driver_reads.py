"""Hot reads straight on the driver connection, still behind both tenant walls.

An ORM unit of work costs about 0.4 ms of Python per request (session, events,
compilation, result processing) on top of the database's own 0.1 ms; for the
single-row reads an API serves most, that was most of crm-core's latency. Here a
statement is compiled once (from SQLAlchemy, so the schema stays single-sourced) and
run as an asyncpg prepared statement on a pooled connection, in a read-only
transaction with `app.tenant_id` set: RLS still filters, and each statement names its
tenant explicitly in place of the ORM's automatic filter. The transaction opens with
its tenant in one round trip (BEGIN and set_config as one simple query), not two.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from crm_kit.errors import Unavailable

# A simple query takes no parameters: the tenant goes in as a UUID's own text.
_BEGIN_FOR_TENANT = "BEGIN READ ONLY; SELECT set_config('app.tenant_id', '{tenant}', true)"
_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class DriverQuery:
    """A SQLAlchemy statement compiled once to the driver's SQL and parameter order."""

    sql: str
    params: tuple[str, ...]

    @classmethod
    def of(cls, statement: Select[Any]) -> DriverQuery:
        compiled = statement.compile(dialect=_DIALECT)
        return cls(compiled.string, tuple(compiled.positiontup or ()))

    async def fetchrow(self, connection: asyncpg.Connection, **values: Any) -> Any:
        return await connection.fetchrow(self.sql, *(values[name] for name in self.params))


class RecordFields:
    """A driver row read by attribute (`row.first_name`), as the ORM object of the same
    columns is: a mapper takes either, so a hot read builds no ORM instance (about
    20 us of instrumentation) only to read it once."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None


def begin_for_tenant(tenant_id: uuid.UUID) -> str:
    """BEGIN READ ONLY, with `app.tenant_id` set for RLS, as one simple query."""
    if not isinstance(tenant_id, uuid.UUID):
        raise TypeError("tenant_id must be a UUID")  # never text from outside into SQL
    return _BEGIN_FOR_TENANT.format(tenant=tenant_id)


@asynccontextmanager
async def tenant_read(
    factory: async_sessionmaker[AsyncSession], *, tenant_id: uuid.UUID
) -> AsyncIterator[asyncpg.Connection]:
    """A pooled driver connection in a read-only transaction bound to one tenant (RLS).

    A connection the server dropped is invalidated (the pool replaces it) and the call
    fails as Unavailable, so the caller retries, as with the ORM path.
    """
    engine: AsyncEngine = factory.kw["bind"]
    # The pool's own connection, without an AsyncConnection around it: nothing here
    # uses SQLAlchemy's execution, and that wrapper cost about 50 us per read.
    pooled = await engine.raw_connection()
    try:
        driver = _driver_of(pooled)
        try:
            await driver.execute(begin_for_tenant(tenant_id))
            try:
                yield driver
            except BaseException:
                if not driver.is_closed():
                    await driver.execute("ROLLBACK")
                raise
            await driver.execute("COMMIT")
        except Exception as exc:
            # Asked of the connection, not of the error: a dropped connection fails
            # with several asyncpg errors depending on timing.
            if not driver.is_closed():
                raise
            await greenlet_spawn(pooled.invalidate)  # which also gives it back
            raise Unavailable(
                "the database connection was lost; retry", code="database_unavailable"
            ) from exc
    finally:
        if pooled.is_valid:
            # In a greenlet: giving back a connection beyond pool_size closes it, which
            # awaits the driver.
            await greenlet_spawn(pooled.close)


async def session_driver(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session's transaction, bound to its tenant as the
    session is: for what only the driver does (COPY) inside a unit of work."""
    return _driver_of(await (await session.connection()).get_raw_connection())


def _driver_of(pooled: PoolProxiedConnection) -> asyncpg.Connection:
    driver = pooled.driver_connection
    if driver is None:
        raise RuntimeError("the pooled connection has no driver connection")
    return driver
