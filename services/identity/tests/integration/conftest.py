"""identity's test database (migrated once per run) and a servicer over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_devstack.stack import IDENTITY
from crm_devstack.testing import fresh_database, stack_config_for_tests
from crm_identity.__main__ import MIGRATIONS_DIR
from crm_identity.accounts.passwords import PasswordHasher
from crm_identity.entrypoints.grpc_server import IdentityServicer
from crm_identity.tokens.keys import KeyStore
from crm_identity.tokens.service import TokenPolicy
from crm_kit.db.session import create_engine, make_session_factory


@pytest_asyncio.fixture(scope="session")
async def database_urls() -> tuple[str, str]:
    return await fresh_database(stack_config_for_tests(), IDENTITY, MIGRATIONS_DIR)


@pytest_asyncio.fixture(scope="session")
async def engine(database_urls: tuple[str, str]) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_urls[0], pool_size=5)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(scope="session")
async def servicer(engine: AsyncEngine) -> IdentityServicer:
    factory = make_session_factory(engine)
    keys = KeyStore(factory)
    await keys.load()
    return IdentityServicer(
        factory=factory,
        # The lowest cost the settings allow keeps the suite quick; cost 12 is the default.
        hasher=PasswordHasher(rounds=10),
        keys=keys,
        policy=TokenPolicy(
            issuer="crm-identity",
            audience="crm",
            access_ttl_seconds=900,
            refresh_ttl=timedelta(days=30),
        ),
    )
