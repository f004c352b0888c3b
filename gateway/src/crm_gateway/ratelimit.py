"""Rate limits shared by all gateway replicas through Redis, per process when Redis is down.

Every limited response carries `RateLimit-Policy` and `RateLimit`
(draft-ietf-httpapi-ratelimit-headers); a refusal is a 429 problem with Retry-After.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, RateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from redis.exceptions import RedisError

from crm_gateway.problems import Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimitPolicy:
    name: str
    item: RateLimitItem

    @classmethod
    def parse(cls, name: str, spec: str) -> RateLimitPolicy:
        return cls(name, parse(spec))

    @property
    def window_seconds(self) -> int:
        return int(self.item.get_expiry())

    def header(self) -> str:
        return f'"{self.name}";q={self.item.amount};w={self.window_seconds}'


class RateLimiterService:
    def __init__(self, storage_url: str) -> None:
        storage = storage_from_string(_async_url(storage_url))
        assert isinstance(storage, Storage), "async+ URLs give async storage"
        self._primary = self._limiter(storage)
        self._fallback = self._limiter(MemoryStorage())

    @staticmethod
    def _limiter(storage: Storage) -> RateLimiter:
        return MovingWindowRateLimiter(storage)

    async def check(self, policy: RateLimitPolicy, key: str) -> dict[str, str]:
        """Count one request; the headers to send, or a 429 Problem carrying them."""
        try:
            allowed, reset_at, remaining = await self._hit(self._primary, policy, key)
        except (StorageError, RedisError, ConnectionError, OSError) as exc:
            log.warning(
                "rate-limit storage unreachable; limiting per process", extra={"error": repr(exc)}
            )
            allowed, reset_at, remaining = await self._hit(self._fallback, policy, key)
        reset_in = max(0, math.ceil(reset_at - time.time()))
        headers = {
            "RateLimit-Policy": policy.header(),
            "RateLimit": f'"{policy.name}";r={remaining};t={reset_in}',
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, reset_in))
            raise Problem(429, "rate_limited", "too many requests; retry later", headers=headers)
        return headers

    @staticmethod
    async def _hit(
        limiter: RateLimiter, policy: RateLimitPolicy, key: str
    ) -> tuple[bool, float, int]:
        allowed = await limiter.hit(policy.item, policy.name, key)
        stats = await limiter.get_window_stats(policy.item, policy.name, key)
        return allowed, stats.reset_time, stats.remaining


def _async_url(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"
