"""Pytest fixtures every service's tests share: the engine and session factory over its
test database (as the RLS-bound runtime role), and fresh tenant ids.

A service's conftest defines only which database: a session-scoped `database_urls`
fixture returning `await migrated_test_database("crm_x", MIGRATIONS_DIR)`, and imports
these fixtures by their own names (`from crm_devstack.service_database import engine as
engine`) so pytest finds them there.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_devstack.stack import SERVICES
from crm_devstack.testing import fresh_database, stack_config_for_tests
from crm_kit.db.session import create_engine, make_session_factory


async def migrated_test_database(module: str, migrations_dir: Path) -> tuple[str, str]:
    """The service's test database, dropped and migrated afresh: (runtime URL, owner URL)."""
    service = next(s for s in SERVICES if s.module == module)
    return await fresh_database(stack_config_for_tests(), service, migrations_dir)


@pytest_asyncio.fixture(scope="session")
async def engine(database_urls: tuple[str, str]) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_urls[0], pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_session_factory(engine)


@pytest.fixture
def tenant() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def other_tenant() -> uuid.UUID:
    return uuid.uuid4()
