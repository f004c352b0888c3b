"""Pools do not ping before each checkout: a dropped connection costs one failed call."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crm_kit.db.driver_reads import tenant_read
from crm_kit.db.session import make_session_factory, unit_of_work
from crm_kit.errors import Unavailable

pytestmark = pytest.mark.integration

APPLICATION_NAME = f"connection-loss-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture
async def engine(database_urls: tuple[str, str]) -> AsyncIterator[AsyncEngine]:
    """An engine of its own, named, so terminating its backend touches no other test."""
    engine = create_async_engine(
        database_urls[0],
        pool_size=1,
        connect_args={"server_settings": {"application_name": APPLICATION_NAME}},
    )
    yield engine
    await engine.dispose()


async def terminate_backends(migration_url: str) -> int:
    """Terminate the engine's backends and wait until they are gone: pg_terminate_backend
    only signals, and a query sent before the backend exits would still succeed."""
    connection = await asyncpg.connect(migration_url.replace("+asyncpg", ""))
    try:
        killed: int = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = $1",
            APPLICATION_NAME,
        )
        for _ in range(100):
            alive = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                APPLICATION_NAME,
            )
            if alive == 0:
                break
            await asyncio.sleep(0.05)
        return killed
    finally:
        await connection.close()


async def read_one(engine: AsyncEngine) -> int:
    async with unit_of_work(make_session_factory(engine), tenant_id=uuid.uuid4()) as session:
        return int(await session.scalar(text("SELECT 1")) or 0)


async def test_a_dropped_connection_fails_one_call_then_the_pool_recovers(
    engine: AsyncEngine, database_urls: tuple[str, str]
) -> None:
    assert await read_one(engine) == 1
    assert await terminate_backends(database_urls[1]) == 1

    with pytest.raises(DBAPIError) as lost:
        await read_one(engine)
    assert lost.value.connection_invalidated is True
    assert await read_one(engine) == 1


async def read_on_driver(engine: AsyncEngine) -> int:
    async with tenant_read(make_session_factory(engine), tenant_id=uuid.uuid4()) as connection:
        return int(await connection.fetchval("SELECT 1"))


async def test_the_driver_read_path_recovers_too_failing_as_unavailable(
    engine: AsyncEngine, database_urls: tuple[str, str]
) -> None:
    assert await read_on_driver(engine) == 1
    assert await terminate_backends(database_urls[1]) == 1

    with pytest.raises(Unavailable):
        await read_on_driver(engine)
    assert await read_on_driver(engine) == 1
