"""The GCRA limiter against real Redis servers: one round trip, shared, and degrading
to per-process limits while Redis is down."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as redis

from crm_devstack.testing import free_port
from crm_gateway.problems import Problem
from crm_gateway.ratelimit import MemoryGcra, RateLimiterService, RateLimitPolicy

pytestmark = pytest.mark.integration

PER_USER = RateLimitPolicy.parse("default", "5/second")
PER_TENANT = RateLimitPolicy.parse("tenant", "3/second")


class OwnRedis:
    """A redis-server of the test's own, so the test can stop and start it."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def _wait_up(url: str) -> None:
    client = redis.from_url(url)
    try:
        for _ in range(50):
            try:
                if await client.ping():
                    return
            except (OSError, redis.ConnectionError):
                await asyncio.sleep(0.1)
        raise AssertionError("redis did not start")
    finally:
        await client.aclose()


@pytest_asyncio.fixture
async def redis_url(own_redis: OwnRedis) -> AsyncIterator[str]:
    await _wait_up(own_redis.url)
    yield own_redis.url


async def _allowed(limiter: RateLimiterService, checks: list[tuple[RateLimitPolicy, str]]) -> bool:
    try:
        await limiter.check_all(checks)
    except Problem:
        return False
    return True


class TestSharedLimits:
    async def test_two_gateways_share_one_budget(self, redis_url: str) -> None:
        first, second = RateLimiterService(redis_url), RateLimiterService(redis_url)
        key = f"user:{uuid.uuid4()}"
        outcomes = [await _allowed(limiter, [(PER_USER, key)]) for limiter in (first, second) * 4]
        assert outcomes.count(True) == PER_USER.limit

    async def test_every_limit_of_a_request_is_one_round_trip(self, redis_url: str) -> None:
        limiter = RateLimiterService(redis_url)
        # The first call loads the script into Redis; from then on, one EVALSHA each.
        await limiter.check_all([(PER_USER, f"user:{uuid.uuid4()}")])
        client = redis.from_url(redis_url)
        await client.config_resetstat()
        for _ in range(3):
            await limiter.check_all(
                [(PER_USER, f"user:{uuid.uuid4()}"), (PER_TENANT, f"tenant:{uuid.uuid4()}")]
            )
        stats = await client.info("commandstats")
        await client.aclose()
        calls = {name: v["calls"] for name, v in stats.items() if name.startswith("cmdstat_")}
        # Three requests, two limits each: three script calls; the GETs and SETs
        # counted below run inside the script, on the server, in the same trip.
        assert calls.get("cmdstat_evalsha", 0) == 3
        assert calls.get("cmdstat_eval", 0) == 0
        assert calls.get("cmdstat_get", 0) == 6

    async def test_a_refused_limit_consumes_none_of_the_others(self, redis_url: str) -> None:
        limiter = RateLimiterService(redis_url)
        tenant = f"tenant:{uuid.uuid4()}"
        user = f"user:{uuid.uuid4()}"
        for _ in range(PER_TENANT.limit):
            await limiter.check_all([(PER_USER, f"user:{uuid.uuid4()}"), (PER_TENANT, tenant)])
        with pytest.raises(Problem) as refused:
            await limiter.check_all([(PER_USER, user), (PER_TENANT, tenant)])
        assert refused.value.headers["RateLimit-Policy"] == PER_TENANT.header()
        headers = await limiter.check_all([(PER_USER, user)])
        assert headers["RateLimit"].startswith(f'"default";r={PER_USER.limit - 1};')


class TestRedisOutage:
    async def test_keeps_limiting_per_process_then_returns_to_redis(
        self, own_redis: OwnRedis, redis_url: str
    ) -> None:
        limiter = RateLimiterService(redis_url)
        key = f"user:{uuid.uuid4()}"
        assert await _allowed(limiter, [(PER_USER, key)])
        own_redis.stop()

        outcomes = [await _allowed(limiter, [(PER_USER, key)]) for _ in range(8)]
        assert outcomes.count(True) == PER_USER.limit  # the in-process limiter took over
        assert await limiter.store_reachable() is False

        own_redis.start()
        await _wait_up(own_redis.url)
        assert await limiter.store_reachable() is True


class TestMemoryGcra:
    async def test_burst_then_steady_rate(self) -> None:
        store = MemoryGcra()
        policy = RateLimitPolicy.parse("p", "10/second")
        decisions = [(await store.hit([(policy, "k")]))[0] for _ in range(11)]
        assert [d.allowed for d in decisions] == [True] * 10 + [False]
        assert [d.remaining for d in decisions[:3]] == [9, 8, 7]
        assert 0 < decisions[-1].retry_after_us <= 100_000
