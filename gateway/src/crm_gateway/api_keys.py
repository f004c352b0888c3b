"""API keys at the gateway: checked locally, resolved through identity, cached briefly.

A key is checksum-checked here first, so a mistyped one costs no upstream call.
Identity resolves a good key into its principal and a short-lived internal access
token; the gateway keeps both in memory, by the key's SHA-256, until shortly before
the token expires. A revoked key stops working within seconds: identity publishes
`identity.api_key.revoked` with the key's hash and every gateway drops its entry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import grpc
from nats.js import JetStreamContext

from crm.events.v1 import envelope_pb2
from crm.events.v1 import identity_pb2 as identity_events
from crm.identity.v1 import api_keys_pb2
from crm_gateway.problems import Problem
from crm_kit.auth import api_key_format
from crm_kit.auth.tokens import API_KEY_ACTOR, AccessTokenVerifier, Principal
from crm_kit.events.follower import follow

API_KEY_REVOKED_EVENT = "identity.api_key.revoked"
# An entry is dropped this long before its token expires (at most a fifth of its life).
EXPIRY_MARGIN_SECONDS = 30.0
DEFAULT_MAX_ENTRIES = 10_000
# Revoked hashes are remembered this long (more than any internal token lives), so a
# resolution that was in flight when the revocation arrived is not cached afterwards.
DEFAULT_RETENTION_SECONDS = 3600.0

INVALID_API_KEY = "invalid API key"


class ApiKeyResolver(Protocol):
    """identity's ApiKeyService stub, as far as the gateway uses it."""

    async def ResolveApiKey(  # noqa: N802 - gRPC method name
        self, request: api_keys_pb2.ResolveApiKeyRequest
    ) -> api_keys_pb2.ResolvedApiKey: ...


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    principal: Principal
    # The internal access token identity minted for the key; forwarded upstream.
    access_token: str
    # time.monotonic() after which the entry is stale.
    fresh_until: float


class ApiKeyCache:
    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self.retention_seconds = retention_seconds
        self._max_entries = max_entries
        self._entries: dict[str, ResolvedKey] = {}
        # key hash -> when its revocation arrived (time.monotonic())
        self._revoked: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key_hash: str) -> ResolvedKey | None:
        entry = self._entries.get(key_hash)
        if entry is not None and entry.fresh_until <= time.monotonic():
            del self._entries[key_hash]
            return None
        return entry

    def put(self, key_hash: str, entry: ResolvedKey) -> None:
        if key_hash in self._revoked:
            return
        self._entries.pop(key_hash, None)
        while len(self._entries) >= self._max_entries:
            # Oldest first: dicts keep insertion order.
            del self._entries[next(iter(self._entries))]
        self._entries[key_hash] = entry

    def drop(self, key_hash: str) -> None:
        """Forget a revoked key now, and refuse to cache it again."""
        self._entries.pop(key_hash, None)
        now = time.monotonic()
        self._revoked[key_hash] = now
        horizon = now - self.retention_seconds
        for stale in [h for h, at in self._revoked.items() if at < horizon]:
            del self._revoked[stale]

    def apply(self, envelope: envelope_pb2.Envelope) -> None:
        event = identity_events.ApiKeyChanged()
        envelope.payload.Unpack(event)
        if event.key_hash:
            self.drop(event.key_hash)


def follow_api_key_revocations(
    js: JetStreamContext, cache: ApiKeyCache
) -> Coroutine[Any, Any, None]:
    """The follower that drops revoked keys from `cache` (run it beside the server)."""
    return follow(
        js,
        API_KEY_REVOKED_EVENT,
        since=timedelta(seconds=cache.retention_seconds),
        handle=cache.apply,
    )


def _fresh_until(expires_in: int) -> float:
    return time.monotonic() + expires_in - min(EXPIRY_MARGIN_SECONDS, expires_in / 5)


class ApiKeyAuthenticator:
    """Turns an API key into its principal and internal token, from cache or identity."""

    def __init__(self, cache: ApiKeyCache) -> None:
        self.cache = cache
        # One resolution per key at a time: a burst on a cold key makes one upstream call.
        self._in_flight: dict[str, asyncio.Future[ResolvedKey]] = {}

    async def authenticate(
        self, key: str, *, resolver: ApiKeyResolver, verifier: AccessTokenVerifier
    ) -> ResolvedKey:
        if not api_key_format.is_well_formed(key):
            raise Problem(401, "invalid_api_key", "the API key is malformed")
        key_hash = api_key_format.key_hash(key)
        cached = self.cache.get(key_hash)
        if cached is not None:
            revocations = verifier.revocations
            if revocations is None or not revocations.is_revoked(cached.principal):
                return cached
            self.cache.drop(key_hash)
            raise Problem(401, "invalid_api_key", INVALID_API_KEY)
        pending = self._in_flight.get(key_hash)
        if pending is None:
            pending = asyncio.ensure_future(self._resolve(key, key_hash, resolver, verifier))
            self._in_flight[key_hash] = pending
            pending.add_done_callback(lambda _: self._in_flight.pop(key_hash, None))
        # Shielded: one caller giving up must not cancel the others' resolution.
        return await asyncio.shield(pending)

    async def _resolve(
        self,
        key: str,
        key_hash: str,
        resolver: ApiKeyResolver,
        verifier: AccessTokenVerifier,
    ) -> ResolvedKey:
        try:
            resolved = await resolver.ResolveApiKey(api_keys_pb2.ResolveApiKeyRequest(key=key))
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT):
                raise Problem(401, "invalid_api_key", INVALID_API_KEY) from error
            raise
        # Verified like any access token, so the principal is built in one place only.
        principal = await verifier.verify(resolved.access_token)
        if principal.actor_kind != API_KEY_ACTOR:
            raise Problem(401, "invalid_api_key", INVALID_API_KEY)
        entry = ResolvedKey(
            principal=principal,
            access_token=resolved.access_token,
            fresh_until=_fresh_until(int(resolved.expires_in)),
        )
        self.cache.put(key_hash, entry)
        return entry
