"""The whole suite, every process real: five services and the gateway as separate
processes, on the machine's PostgreSQL, NATS (JetStream) and Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import nats
import pytest
import pytest_asyncio
import redis.asyncio as redis_asyncio
import trustme
from cryptography.fernet import Fernet
from nats.js.errors import NotFoundError

from crm_devstack.processes import port_open
from crm_devstack.stack import GATEWAY, SERVICES, Stack, StackConfig
from crm_devstack.testing import TEST_NATS_URL, TEST_REDIS_URL, stack_config_for_tests
from crm_devstack.webhook_receiver import write_ca_bundle
from crm_kit.events.bus import STREAM_NAME

from .plans import E2E_PLAN, E2E_PLAN_LIMIT_PER_SECOND, PLAN_POLICY, announce_plan, refresh_until

# Beside `make run` and a developer's own services: ports 51051.. and 9000.
PORT_OFFSET = 1000
# High enough that no functional test (a few dozen requests in a burst) meets it; the
# rate-limit tests derive their expectations from it.
DEFAULT_LIMIT_PER_SECOND = 50
PASSWORD = "correct horse battery"


async def _clean_bus_and_limits() -> None:
    """A fresh stream and rate-limit db, so nothing from an earlier run leaks in."""
    nc = await nats.connect(TEST_NATS_URL)
    try:
        await nc.jetstream().delete_stream(STREAM_NAME)
    except NotFoundError:
        pass
    finally:
        await nc.close()
    client = redis_asyncio.from_url(TEST_REDIS_URL)
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="session")
def webhook_ca() -> trustme.CA:
    """The CA of the local webhook receivers; messaging trusts it (real TLS in tests)."""
    return trustme.CA()


def webhook_env(ca: trustme.CA, directory: Path) -> dict[str, str]:
    """Messaging's webhook settings for e2e: a fresh key, the receivers' CA and loopback
    allowed, retries a thousand times faster, short timeouts and leases."""
    return {
        "MESSAGING_WEBHOOK_SECRET_KEY": Fernet.generate_key().decode(),
        "MESSAGING_WEBHOOK_CA_BUNDLE": str(write_ca_bundle(ca, directory)),
        "MESSAGING_WEBHOOK_ALLOW_PRIVATE_HOSTS": "127.0.0.0/8",
        "MESSAGING_WEBHOOK_RETRY_SCALE": "0.001",
        "MESSAGING_WEBHOOK_ATTEMPT_TIMEOUT_SECONDS": "2",
        "MESSAGING_WEBHOOK_LEASE_MARGIN_SECONDS": "2",
        "MESSAGING_WEBHOOK_DISPATCH_POLL_SECONDS": "0.1",
    }


@pytest.fixture(scope="session")
def stack_config(tmp_path_factory: pytest.TempPathFactory, webhook_ca: trustme.CA) -> StackConfig:
    return stack_config_for_tests(
        database_suffix="_e2e",
        port_offset=PORT_OFFSET,
        rate_limit_storage_url=TEST_REDIS_URL,
        extra_env={
            "GATEWAY_RATE_LIMIT_DEFAULT": f"{DEFAULT_LIMIT_PER_SECOND}/second",
            "GATEWAY_RATE_LIMIT_AUTH": "1000/minute",
            "GATEWAY_RATE_LIMIT_AUTH_ACCOUNT": "1000/minute",
            "GATEWAY_RATE_LIMIT_PLANS": json.dumps(
                {E2E_PLAN: {"principal": f"{E2E_PLAN_LIMIT_PER_SECOND}/second"}}
            ),
            "IDENTITY_BCRYPT_ROUNDS": "10",
            "CRM_CORE_FILES_ROOT": str(tmp_path_factory.mktemp("e2e-files")),
            **webhook_env(webhook_ca, tmp_path_factory.mktemp("webhook-ca")),
        },
    )


@pytest.fixture(scope="session")
def stack(stack_config: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Another run holding our ports must not lose its stream to our clean-up.
    busy = [
        s.name for s in (*SERVICES, GATEWAY) if port_open(stack_config.host, stack_config.port(s))
    ]
    if busy:
        pytest.fail(f"e2e ports in use by another run: {busy}")
    asyncio.run(_clean_bus_and_limits())
    log_dir = Path(tmp_path_factory.mktemp("e2e-logs"))
    with Stack(stack_config, log_dir=log_dir) as running:
        yield running


@pytest_asyncio.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        yield client


@dataclass(frozen=True)
class Account:
    tenant_id: str
    user_id: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def log_in(api: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await api.post("/v1/auth/login", json={"email": email, "password": password})


async def sign_up(api: httpx.AsyncClient, organization: str = "Acme") -> Account:
    email = f"owner-{uuid.uuid4().hex[:10]}@example.com"
    response = await api.post(
        "/v1/auth/signup",
        json={
            "organization_name": organization,
            "owner_name": "Ada Lovelace",
            "email": email,
            "password": PASSWORD,
            "age_attested": True,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(
        body["tenant_id"], body["user_id"], email, body["access_token"], body["refresh_token"]
    )


@pytest_asyncio.fixture
async def tenant_a(api: httpx.AsyncClient) -> Account:
    return await sign_up(api, "Tenant A")


@pytest_asyncio.fixture
async def tenant_b(api: httpx.AsyncClient) -> Account:
    return await sign_up(api, "Tenant B")


@pytest_asyncio.fixture
async def metered(api: httpx.AsyncClient) -> Account:
    """A new tenant on the e2e plan, with an access token that carries it: the tests that
    must see refusals burst against its low limit (see plans.py)."""
    account = await sign_up(api, "Metered")
    await announce_plan(account.tenant_id, E2E_PLAN)
    policy, access_token, refresh_token = await refresh_until(
        api, account.refresh_token, want=PLAN_POLICY
    )
    assert policy == PLAN_POLICY
    return replace(account, access_token=access_token, refresh_token=refresh_token)
