"""The platform for the benchmark: every process real, on its own databases and ports,
plus the baseline gateway beside the real one, and one tenant with one contact."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from crm_devstack.embedded import EmbeddedNats
from crm_devstack.processes import (
    Job,
    StackProcessError,
    grpc_health_check,
    http_health_check,
    module_command,
    port_open,
)
from crm_devstack.stack import GATEWAY, SERVICES, Stack, StackConfig, gateway_env

# `_bench` databases and ports 52051.. and 10000, beside `make run` (0) and e2e (1000).
DATABASE_SUFFIX = "_bench"
PORT_OFFSET = 2000
# The machine's Redis, a database no test or `make run` uses.
REDIS_URL = "redis://127.0.0.1:6379/14"
# High enough never to refuse the benchmark's one user, tenant and IP, so every request
# is counted (in Redis) and answered 200. Settings a gateway does not declare are ignored.
RATE_LIMIT = "1000000/second"
CRM_CORE = next(s for s in SERVICES if s.name == "crm-core")


def bench_config(
    *,
    database_suffix: str = DATABASE_SUFFIX,
    port_offset: int = PORT_OFFSET,
    redis_url: str = REDIS_URL,
) -> StackConfig:
    """The platform as benchmarks run it; another benchmark passes its own databases,
    ports and Redis database so that it can run right after (or beside) this one."""
    return StackConfig(
        database_suffix=database_suffix,
        port_offset=port_offset,
        rate_limit_storage_url=redis_url,
        extra_env={
            "GATEWAY_RATE_LIMIT_DEFAULT": RATE_LIMIT,
            "GATEWAY_RATE_LIMIT_TENANT": RATE_LIMIT,
            "GATEWAY_RATE_LIMIT_IP": RATE_LIMIT,
            # Outlive the run: an expired token would turn reads into 401s.
            "IDENTITY_ACCESS_TOKEN_TTL_SECONDS": "3600",
            "IDENTITY_BCRYPT_ROUNDS": "10",
        },
    )


@contextmanager
def bench_stack(config: StackConfig, log_dir: Path) -> Iterator[Stack]:
    """The platform on a NATS server of its own (port 4222 + the offset, data under
    log_dir): on the machine's shared NATS its crm-core would share the durable
    consumers of any other stack (tests, `make run`) and take their events."""
    nats = EmbeddedNats(log_dir / "nats", port=4222 + config.port_offset, host=config.host)
    with nats, Stack(replace(config, nats_url=nats.url), log_dir=log_dir) as stack:
        yield stack


def baseline_url(config: StackConfig) -> str:
    return f"http://{config.host}:{config.port(GATEWAY) + 1}"


def start_baseline(stack: Stack, access_token: str) -> None:
    """The gateway without auth and limits, on the gateway's port + 1; the stack stops it."""
    config = stack.config
    port = config.port(GATEWAY) + 1
    if port_open(config.host, port):
        raise StackProcessError(f"gateway-baseline cannot start: port {port} is in use")
    env = {
        **gateway_env(config),
        "GATEWAY_HTTP_PORT": str(port),
        "GATEWAY_RATE_LIMIT_STORAGE_URL": "memory://",
        "BENCH_ACCESS_TOKEN": access_token,
    }
    ready = http_health_check(f"{baseline_url(config)}/healthz")
    job = Job("gateway-baseline", module_command("bench.gateway.baseline"), env, ready)
    stack.supervisor.start([job])


def floor_url(config: StackConfig) -> str:
    return f"http://{config.host}:{config.port(GATEWAY) + 2}"


def start_floor(stack: Stack, tenant_id: str) -> None:
    """The read with no product code (bench/gateway/floor.py): a bare gRPC server on
    crm-core's port + 100 and a bare ASGI app on the gateway's port + 2; the stack stops
    both."""
    config = stack.config
    grpc_port, http_port = config.port(CRM_CORE) + 100, config.port(GATEWAY) + 2
    for port in (grpc_port, http_port):
        if port_open(config.host, port):
            raise StackProcessError(f"the floor cannot start: port {port} is in use")
    upstream = Job(
        "floor-upstream",
        module_command("bench.gateway.floor", "upstream"),
        {"FLOOR_GRPC_PORT": str(grpc_port), "FLOOR_DSN": runtime_dsn(config)},
        grpc_health_check(f"{config.host}:{grpc_port}"),
    )
    edge = Job(
        "floor-edge",
        module_command("bench.gateway.floor", "edge"),
        {
            "FLOOR_HTTP_PORT": str(http_port),
            "FLOOR_UPSTREAM": f"{config.host}:{grpc_port}",
            "FLOOR_REDIS_URL": config.rate_limit_storage_url,
            "FLOOR_TENANT_ID": tenant_id,
        },
        http_health_check(f"{floor_url(config)}/healthz"),
    )
    stack.supervisor.start([upstream, edge])


def runtime_dsn(config: StackConfig) -> str:
    """crm-core's database as its runtime role (RLS applies), for asyncpg."""
    database = config.database(CRM_CORE)
    url = config.database_url(database, user=f"{database}_app", password=config.app_password)
    return url.replace("postgresql+asyncpg", "postgresql", 1)


@dataclass(frozen=True)
class Seed:
    tenant_id: str
    contact_id: str
    access_token: str


def signup(client: httpx.Client, organization_name: str) -> dict[str, Any]:
    """A new tenant and its owner, signed up through the gateway: the token response."""
    response = client.post(
        "/v1/auth/signup",
        json={
            "organization_name": organization_name,
            "owner_name": f"{organization_name} Owner",
            "email": f"bench-{uuid.uuid4().hex[:10]}@example.com",
            "password": "correct horse battery staple",
            "age_attested": True,
        },
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def seed(gateway_url: str) -> Seed:
    """A new tenant (signed up through the gateway) with one contact."""
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        body = signup(client, "Bench")
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        contact = client.post(
            "/v1/contacts",
            headers=headers,
            json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
        )
        contact.raise_for_status()
    return Seed(body["tenant_id"], contact.json()["id"], body["access_token"])
