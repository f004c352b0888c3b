"""identity's test database (migrated once per run) and a servicer over it."""

from __future__ import annotations

from datetime import timedelta

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_devstack.service_database import engine as engine
from crm_devstack.service_database import migrated_test_database
from crm_identity.__main__ import MIGRATIONS_DIR
from crm_identity.bootstrap import login_policies
from crm_identity.entrypoints.grpc_identity import IdentityServicer
from crm_identity.passwords.service import ResetPolicy
from crm_identity.settings import IdentitySettings
from crm_identity.tokens.keys import KeyStore
from crm_kit.db.session import make_session_factory


@pytest_asyncio.fixture(scope="session")
async def database_urls() -> tuple[str, str]:
    return await migrated_test_database("crm_identity", MIGRATIONS_DIR)


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
