"""messaging's test database (migrated once per run), per-test tenants, and a real local
HTTPS webhook receiver whose CA the sender trusts."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import trustme
from cryptography.fernet import Fernet

from crm_devstack.service_database import engine as engine
from crm_devstack.service_database import factory as factory
from crm_devstack.service_database import migrated_test_database
from crm_devstack.service_database import other_tenant as other_tenant
from crm_devstack.service_database import tenant as tenant
from crm_devstack.webhook_receiver import WebhookReceiver, write_ca_bundle
from crm_messaging.__main__ import MIGRATIONS_DIR
from crm_messaging.webhooks.endpoints import EndpointRules
from crm_messaging.webhooks.signing import SecretBox


@pytest_asyncio.fixture(scope="session")
async def database_urls() -> tuple[str, str]:
    """(runtime URL as the RLS-bound role, migration URL as the owner)."""
    return await migrated_test_database("crm_messaging", MIGRATIONS_DIR)


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
