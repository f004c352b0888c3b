"""Resilience with every process real: rate limits shared by two gateway processes, the
rate-limit Redis stopped mid-run, and crm-core killed mid-run (503, then recovery).

Each test starts the extra processes it needs beside the session's stack (its own
gateways, its own redis-server, its own crm-core), so it can stop and kill them without
disturbing the other tests, and stops them all before it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from crm_devstack.processes import (
    Child,
    Job,
    ReadyCheck,
    grpc_health_check,
    http_health_check,
    module_command,
    port_open,
    spawn,
    terminate,
    wait_ready,
)
from crm_devstack.stack import GATEWAY, SERVICES, Stack, gateway_env, service_env
from crm_devstack.testing import free_port

from .conftest import Account
from .plans import E2E_PLAN_LIMIT_PER_SECOND

pytestmark = pytest.mark.e2e

CRM_CORE = next(s for s in SERVICES if s.name == "crm-core")
STARTUP_TIMEOUT = 60.0
PROBLEM = "application/problem+json"


@pytest.fixture
def processes() -> Iterator[contextlib.ExitStack]:
    """Every process a test starts is registered here and stopped when the test ends."""
    with contextlib.ExitStack() as started:
        yield started


def start(processes: contextlib.ExitStack, job: Job, log_dir: Path, ready: ReadyCheck) -> Child:
    """Spawn job (log in log_dir), stop it at the test's end, and wait until it is ready."""
    child = spawn(job, log_dir / f"{job.name}.log")
    processes.callback(terminate, child, grace=10.0)
    wait_ready(child, ready, timeout=STARTUP_TIMEOUT)
    return child


def start_gateway(
    processes: contextlib.ExitStack, stack: Stack, log_dir: Path, name: str, **env: str
) -> str:
    """Another gateway process like the stack's, on a port of its own; returns its URL."""
    port = free_port()
    overrides = {f"{GATEWAY.env_prefix}HTTP_PORT": str(port), **env}
    job = Job(name, module_command(GATEWAY.module, "serve"), gateway_env(stack.config) | overrides)
    url = f"http://{stack.config.host}:{port}"
    start(processes, job, log_dir, http_health_check(f"{url}/healthz"))
    return url


def redis_job(name: str, port: int, directory: Path) -> Job:
    """A throwaway redis-server: no persistence, so a restart starts empty."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    return Job(name, [*command, "--appendonly", "no", "--dir", str(directory)])


def redis_up(port: int) -> ReadyCheck:
    return lambda: port_open("127.0.0.1", port)


def gcra_ceiling(elapsed: float, per_second: int = E2E_PLAN_LIMIT_PER_SECOND) -> int:
    """The most one limit of N/second lets through in `elapsed` seconds: the whole burst
    at once, then one per 1/N s (plus one for the edges of the clocks)."""
    return per_second + math.ceil(elapsed * per_second) + 1


async def burst(
    gateways: Sequence[httpx.AsyncClient], account: Account, count: int
) -> tuple[list[httpx.Response], float]:
    """`count` contact reads at once, dealt round-robin to gateways; (responses, seconds)."""
    started = time.monotonic()
    responses = await asyncio.gather(
        *(
            gateways[i % len(gateways)].get("/v1/contacts", headers=account.headers)
            for i in range(count)
        )
    )
    return list(responses), time.monotonic() - started


async def eventually(
    client: httpx.AsyncClient,
    path: str,
    status: int,
    *,
    within: float,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET path until it answers status or `within` seconds pass; the last response."""
    deadline = time.monotonic() + within
    while True:
        response = await client.get(path, headers=headers)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.25)


class TestLimitsAcrossGateways:
    async def test_two_gateway_processes_share_one_budget(
        self,
        stack: Stack,
        metered: Account,
        processes: contextlib.ExitStack,
        tmp_path: Path,
    ) -> None:
        second_url = start_gateway(processes, stack, tmp_path, "gateway-second")
        async with (
            httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as first,
            httpx.AsyncClient(base_url=second_url, timeout=30) as second,
        ):
            responses, elapsed = await burst(
                [first, second], metered, 8 * E2E_PLAN_LIMIT_PER_SECOND
            )

        statuses = [r.status_code for r in responses]
        assert set(statuses) == {200, 429}, statuses
        # Per-process limits would let each gateway serve its own burst: twice this.
        assert statuses.count(200) <= gcra_ceiling(elapsed), (statuses.count(200), elapsed)
        refused_by = {r.request.url.port for r in responses if r.status_code == 429}
        assert refused_by == {stack.config.port(GATEWAY), httpx.URL(second_url).port}


class TestRateLimitStoreOutage:
    async def test_limits_stay_in_process_while_redis_is_down_then_redis_returns(
        self,
        stack: Stack,
        metered: Account,
        processes: contextlib.ExitStack,
        tmp_path: Path,
    ) -> None:
        redis_port = free_port()
        redis = start(
            processes, redis_job("redis", redis_port, tmp_path), tmp_path, redis_up(redis_port)
        )
        url = start_gateway(
            processes,
            stack,
            tmp_path,
            "gateway-own-redis",
            GATEWAY_RATE_LIMIT_STORAGE_URL=f"redis://127.0.0.1:{redis_port}/0",
        )
        async with httpx.AsyncClient(base_url=url, timeout=30) as gateway:
            ready = await eventually(gateway, "/readyz", 200, within=15)
            assert ready.status_code == 200, ready.text
            ok = await gateway.get("/v1/contacts", headers=metered.headers)
            assert ok.status_code == 200, ok.text

            terminate(redis, grace=10.0)
            served = await gateway.get("/v1/contacts", headers=metered.headers)
            assert served.status_code == 200, served.text
            await asyncio.sleep(1.0)  # a full budget again, now counted in process memory
            responses, elapsed = await burst([gateway], metered, 6 * E2E_PLAN_LIMIT_PER_SECOND)
            statuses = [r.status_code for r in responses]
            assert set(statuses) == {200, 429}, statuses
            assert statuses.count(200) <= gcra_ceiling(elapsed)
            not_ready = await gateway.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"]["rate_limit_store"] is False

            start(
                processes,
                redis_job("redis-again", redis_port, tmp_path),
                tmp_path,
                redis_up(redis_port),
            )
            ready = await eventually(gateway, "/readyz", 200, within=10)
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["rate_limit_store"] is True
            again = await eventually(
                gateway, "/v1/contacts", 200, within=10, headers=metered.headers
            )
            assert again.status_code == 200, again.text


class TestServiceKilled:
    async def test_contact_reads_are_503_while_crm_core_is_down_then_recover(
        self,
        stack: Stack,
        tenant_a: Account,
        processes: contextlib.ExitStack,
        tmp_path: Path,
    ) -> None:
        port = free_port()
        address = f"{stack.config.host}:{port}"
        env = service_env(stack.config, CRM_CORE) | {f"{CRM_CORE.env_prefix}GRPC_PORT": str(port)}
        command = module_command(CRM_CORE.module, "serve")
        crm_core = start(
            processes, Job("crm-core", command, env), tmp_path, grpc_health_check(address)
        )
        url = start_gateway(
            processes, stack, tmp_path, "gateway-own-crm-core", GATEWAY_CRM_CORE_ADDRESS=address
        )
        async with httpx.AsyncClient(base_url=url, timeout=30) as gateway:
            ok = await gateway.get("/v1/contacts", headers=tenant_a.headers)
            assert ok.status_code == 200, ok.text

            os.killpg(crm_core.process.pid, signal.SIGKILL)
            crm_core.process.wait(10)
            down = await gateway.get("/v1/contacts", headers=tenant_a.headers)
            assert down.status_code in (503, 504), down.text
            assert down.headers["content-type"] == PROBLEM
            assert down.json()["status"] == down.status_code
            assert int(down.headers["retry-after"]) >= 1

            start(
                processes,
                Job("crm-core-restarted", command, env),
                tmp_path,
                grpc_health_check(address),
            )
            back = await eventually(
                gateway, "/v1/contacts", 200, within=30, headers=tenant_a.headers
            )
            assert back.status_code == 200, back.text
