"""messaging's test database (migrated once per run), per-test tenants, and a real local
HTTPS webhook receiver whose CA the sender trusts."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import trustme
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_devstack.stack import SERVICES
from crm_devstack.testing import fresh_database, stack_config_for_tests
from crm_devstack.webhook_receiver import WebhookReceiver, write_ca_bundle
from crm_kit.db.session import create_engine, make_session_factory
from crm_messaging.__main__ import MIGRATIONS_DIR
from crm_messaging.webhooks.endpoints import EndpointRules
from crm_messaging.webhooks.signing import SecretBox

MESSAGING = next(s for s in SERVICES if s.module == "crm_messaging")


@pytest_asyncio.fixture(scope="session")
async def database_urls() -> tuple[str, str]:
    """(runtime URL as the RLS-bound role, migration URL as the owner)."""
    return await fresh_database(stack_config_for_tests(), MESSAGING, MIGRATIONS_DIR)


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


@pytest.fixture(scope="session")
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key().decode())


@pytest.fixture(scope="session")
def rules(box: SecretBox) -> EndpointRules:
    """Endpoint rules that let URLs point at the local receiver (loopback)."""
    return EndpointRules(box=box, allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ca_bundle(ca, tmp_path_factory.mktemp("webhook-ca"))


@pytest_asyncio.fixture
async def receiver(ca: trustme.CA) -> AsyncIterator[WebhookReceiver]:
    running = WebhookReceiver(ca)
    await running.start()
    yield running
    await running.stop()
