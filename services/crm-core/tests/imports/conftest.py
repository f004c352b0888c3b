"""Fixtures of the import tests: a file store on disk, and a database that fails a row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.files.blob_cleanup import use_store
from crm_core.files.storage import LocalDiskStore
from crm_core.models import ImportQueueEntry
from crm_kit.db.session import unit_of_work

# The database refuses the contact p6@example.com: a chunk holding it fails after its
# earlier rows were inserted, as a crash mid-chunk would.
FAIL_ON_P6 = """
CREATE OR REPLACE FUNCTION import_test_crash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.email = 'p6@example.com' THEN RAISE EXCEPTION 'disk on fire'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER import_test_crash BEFORE INSERT ON contacts
  FOR EACH ROW EXECUTE FUNCTION import_test_crash();
"""


@pytest_asyncio.fixture(autouse=True)
async def empty_queue(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    """Each test's worker sees only that test's jobs (a worker claims any tenant's)."""
    await _clear_queue(factory)
    yield
    await _clear_queue(factory)


async def _clear_queue(factory: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(factory, tenant_id=None) as session:
        await session.execute(delete(ImportQueueEntry))


@pytest.fixture
def store(tmp_path: Path) -> LocalDiskStore:
    store = LocalDiskStore(tmp_path)
    use_store(store)
    return store


@pytest_asyncio.fixture
async def failing_row(database_urls: tuple[str, str]) -> AsyncIterator[None]:
    """Installs the failure (as the migration role) for the test, then removes it."""
    owner = await asyncpg.connect(database_urls[1].replace("postgresql+asyncpg", "postgresql"))
    try:
        await owner.execute(FAIL_ON_P6)
        yield
    finally:
        await owner.execute("DROP TRIGGER IF EXISTS import_test_crash ON contacts")
        await owner.close()
