"""identity's test database (migrated once per run) and a servicer over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_devstack.stack import IDENTITY
from crm_devstack.testing import fresh_database, stack_config_for_tests
from crm_identity.__main__ import MIGRATIONS_DIR
from crm_identity.bootstrap import login_policies
from crm_identity.entrypoints.grpc_identity import IdentityServicer
from crm_identity.passwords.service import ResetPolicy
from crm_identity.settings import IdentitySettings
from crm_identity.tokens.keys import KeyStore
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
    # The lowest bcrypt cost the settings allow keeps the suite quick (12 is the default);
    # every other policy is the shipped default.
    settings = IdentitySettings(bcrypt_rounds=10)
    return IdentityServicer(
        factory=factory,
        policies=login_policies(settings, keys),
        reset=ResetPolicy(ttl=timedelta(minutes=30), url="https://app.example/reset-password"),
    )
