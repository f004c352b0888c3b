"""crm-core's test database (migrated once per run) and per-test tenants."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_core.__main__ import MIGRATIONS_DIR
from crm_devstack.stack import SERVICES
from crm_devstack.testing import fresh_database, stack_config_for_tests
from crm_kit.db.session import create_engine, make_session_factory

CRM_CORE = next(s for s in SERVICES if s.module == "crm_core")


@pytest_asyncio.fixture(scope="session")
async def database_urls() -> tuple[str, str]:
    """(runtime URL as the RLS-bound role, migration URL as the owner)."""
    return await fresh_database(stack_config_for_tests(), CRM_CORE, MIGRATIONS_DIR)


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
