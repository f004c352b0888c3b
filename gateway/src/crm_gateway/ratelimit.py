"""Rate limits: GCRA, every limit of a request checked in one atomic Redis round trip.

Limits are shared by all gateway replicas through Redis (a Lua script reads and
advances each key's theoretical arrival time, and consumes nothing unless every
limit allows the request). When Redis is unreachable the gateway keeps serving with
the same algorithm in process memory, logs it, and goes back to Redis a few seconds
later. Every limited response carries `RateLimit-Policy` and `RateLimit`
(draft-ietf-httpapi-ratelimit-headers); a refusal is a 429 problem with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from crm_gateway.problems import Problem

log = logging.getLogger(__name__)

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*$")
REDIS_RETRY_SECONDS = 5.0
KEY_PREFIX = "crm:rl:"

# KEYS: one per limit. ARGV: for each limit, its emission interval and its tolerance
# (interval x burst), in microseconds. Returns, per limit: allowed, remaining,
# retry-after and reset (microseconds). Nothing is written unless all allow.
_GCRA_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local results, new_tats, denied = {}, {}, false
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - tolerance
  if now < allow_at then
    denied = true
    results[i] = {0, 0, allow_at - now, tat - now}
  else
    new_tats[i] = new_tat
    results[i] = {1, math.floor((tolerance - (new_tat - now)) / interval), 0, new_tat - now}
  end
end
if not denied then
  for i = 1, #KEYS do
    redis.call('SET', KEYS[i], string.format('%d', new_tats[i]), 'PX',
      math.ceil((new_tats[i] - now) / 1000) + 1000)
  end
end
return results
"""


@dataclass(frozen=True)
class RateLimitPolicy:
    name: str
    limit: int
    window_seconds: int

    @classmethod
    def parse(cls, name: str, spec: str) -> RateLimitPolicy:
        """`100/second`, `10/minute`, `1000/hour`..."""
        match = _SPEC.match(spec)
        if match is None or int(match.group(1)) < 1:
            raise ValueError(f"rate limit {spec!r} is not N/second|minute|hour|day")
        return cls(name, int(match.group(1)), _UNITS[match.group(2)])

    @property
    def interval_us(self) -> int:
        """Time one request 'costs'; the whole limit may be spent at once (the burst)."""
        return max(1, self.window_seconds * 1_000_000 // self.limit)

    @property
    def tolerance_us(self) -> int:
        return self.interval_us * self.limit

    def header(self) -> str:
        return f'"{self.name}";q={self.limit};w={self.window_seconds}'


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after_us: int
    reset_us: int


Check = tuple[RateLimitPolicy, str]


class RedisGcra:
    def __init__(self, url: str) -> None:
        self._client: Any = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._client.register_script(_GCRA_LUA)

    async def hit(self, checks: Sequence[Check]) -> list[Decision]:
        keys = [f"{KEY_PREFIX}{policy.name}:{key}" for policy, key in checks]
        args = [n for policy, _ in checks for n in (policy.interval_us, policy.tolerance_us)]
        rows = await self._script(keys=keys, args=args)
        return [Decision(bool(a), int(r), int(retry), int(reset)) for a, r, retry, reset in rows]

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False


class MemoryGcra:
    """The same algorithm in process memory: for `memory://` and while Redis is down."""

    def __init__(self) -> None:
        self._tats: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def hit(self, checks: Sequence[Check]) -> list[Decision]:
        async with self._lock:
            now = time.time_ns() // 1000
            decisions, new_tats = [], {}
            for policy, key in checks:
                name = f"{policy.name}:{key}"
                tat = max(self._tats.get(name, now), now)
                new_tat = tat + policy.interval_us
                allow_at = new_tat - policy.tolerance_us
                if now < allow_at:
                    decisions.append(Decision(False, 0, allow_at - now, tat - now))
                else:
                    new_tats[name] = new_tat
                    remaining = (policy.tolerance_us - (new_tat - now)) // policy.interval_us
                    decisions.append(Decision(True, remaining, 0, new_tat - now))
            if all(d.allowed for d in decisions):
                self._tats.update(new_tats)
                self._forget_expired(now)
            return decisions

    def _forget_expired(self, now: int) -> None:
        if len(self._tats) > 100_000:
            self._tats = {k: tat for k, tat in self._tats.items() if tat > now}


class RateLimiterService:
    def __init__(self, storage_url: str) -> None:
        self._redis = RedisGcra(storage_url) if storage_url.startswith("redis") else None
        self._memory = MemoryGcra()
        self._redis_down_until = 0.0

    async def check(self, policy: RateLimitPolicy, key: str) -> dict[str, str]:
        return await self.check_all([(policy, key)])

    async def check_all(self, checks: Sequence[Check]) -> dict[str, str]:
        """Count one request against every limit at once. Returns the headers of the
        first (the caller's own) limit, or raises a 429 Problem naming the one refused."""
        decisions = await self._hit(checks)
        for (policy, _), decision in zip(checks, decisions, strict=True):
            if not decision.allowed:
                headers = _headers(policy, decision)
                headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after_us / 1e6)))
                raise Problem(
                    429, "rate_limited", "too many requests; retry later", headers=headers
                )
        return _headers(checks[0][0], decisions[0])

    async def _hit(self, checks: Sequence[Check]) -> list[Decision]:
        if self._redis is None or time.monotonic() < self._redis_down_until:
            return await self._memory.hit(checks)
        try:
            decisions = await self._redis.hit(checks)
        except (RedisError, OSError) as exc:
            log.warning(
                "rate-limit store unreachable; limiting per process for a while",
                extra={"error": type(exc).__name__, "retry_in": REDIS_RETRY_SECONDS},
            )
            self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            return await self._memory.hit(checks)
        return decisions

    async def store_reachable(self) -> bool:
        return True if self._redis is None else await self._redis.ping()


def _headers(policy: RateLimitPolicy, decision: Decision) -> dict[str, str]:
    reset = max(0, math.ceil(decision.reset_us / 1e6))
    return {
        "RateLimit-Policy": policy.header(),
        "RateLimit": f'"{policy.name}";r={max(0, decision.remaining)};t={reset}',
    }
