"""crm-core's test database (migrated once per run) and per-test tenants."""

from __future__ import annotations

import pytest_asyncio

from crm_core.__main__ import MIGRATIONS_DIR
from crm_devstack.service_database import engine as engine
from crm_devstack.service_database import factory as factory
from crm_devstack.service_database import migrated_test_database
from crm_devstack.service_database import other_tenant as other_tenant
from crm_devstack.service_database import tenant as tenant


@pytest_asyncio.fixture(scope="session")
async def database_urls() -> tuple[str, str]:
    """(runtime URL as the RLS-bound role, migration URL as the owner)."""
    return await migrated_test_database("crm_core", MIGRATIONS_DIR)
