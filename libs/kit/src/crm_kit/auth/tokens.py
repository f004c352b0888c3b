"""Verify identity's access tokens locally against its published JWKS.

`alg` is pinned to ES256 (so `none` and HS* tokens fail), the `kid` selects the key,
an unknown `kid` refreshes the key set at most once per `min_refresh_seconds` (so a
flood of garbage kids cannot hammer identity), and iss, aud, exp and typ are checked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from jwt.algorithms import ECAlgorithm

from crm_kit.errors import Unauthenticated, Unavailable

log = logging.getLogger(__name__)

ACCESS_TOKEN_ALGORITHM = "ES256"
ACCESS_TOKEN_TYPE = "at+jwt"

JwksFetcher = Callable[[], Awaitable[str]]

USER_ACTOR = "user"
API_KEY_ACTOR = "api_key"
ACTOR_KINDS = frozenset({USER_ACTOR, API_KEY_ACTOR})


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    roles: tuple[str, ...]
    token_id: str
    expires_at: int
    # Seconds since the epoch, with the fraction identity gives it (milliseconds).
    issued_at: float = 0.0
    session_id: str | None = None
    # What an API key may do (`contacts:read` ...); empty for users, whose roles rule.
    scopes: tuple[str, ...] = ()
    # "user", or "api_key" for the internal token identity mints for an API key.
    actor_kind: str = USER_ACTOR
    # The tenant's billing plan as of the token's minting; "" is the default plan.
    plan: str = ""


class JwksCache:
    """Public keys by `kid`, loaded lazily and refreshed on an unknown `kid`."""

    def __init__(self, fetch: JwksFetcher, *, min_refresh_seconds: float = 10.0) -> None:
        self._fetch = fetch
        self._min_refresh_seconds = min_refresh_seconds
        self._keys: dict[str, Any] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return bool(self._keys)

    def knows(self, kid: str) -> bool:
        """Whether `kid` is in the key set as last loaded (no refresh)."""
        return kid in self._keys

    async def refresh(self) -> None:
        document = json.loads(await self._fetch())
        keys = {}
        for jwk in document.get("keys", []):
            if jwk.get("kty") == "EC" and jwk.get("alg", ACCESS_TOKEN_ALGORITHM) == "ES256":
                keys[jwk["kid"]] = ECAlgorithm.from_jwk(json.dumps(jwk))
        self._keys = keys
        self._loaded_at = time.monotonic()

    async def key_for(self, kid: str) -> Any:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and self._may_refresh():
                try:
                    await self.refresh()
                except Exception as exc:
                    log.warning("JWKS refresh failed", exc_info=True)
                    self._loaded_at = time.monotonic()
                    raise Unavailable("the signing keys cannot be loaded right now") from exc
        if kid not in self._keys:
            raise Unauthenticated("the token's signing key is unknown", code="invalid_token")
        return self._keys[kid]

    def _may_refresh(self) -> bool:
        # Without any key yet, retry sooner, but still not once per request: a down
        # identity must fail requests fast, not queue them behind one fetch each.
        floor = self._min_refresh_seconds if self._keys else min(1.0, self._min_refresh_seconds)
        return time.monotonic() - self._loaded_at >= floor


class RevocationCheck(Protocol):
    def is_revoked(self, principal: Principal) -> bool: ...


class VerifiedTokens:
    """Principals of tokens whose signature and claims already passed, by exact token.

    An ES256 check costs about 0.17 ms, paid by the gateway and again by each service a
    request reaches; a client sends the same token for minutes. The exact string is the
    key, so only a token byte-for-byte identical to a verified one hits. A hit still
    honours a signing key withdrawn from the JWKS; expiry and revocation are checked
    by the verifier on every call. FIFO eviction bounds the memory.
    """

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._max_entries = max_entries
        self._entries: dict[str, tuple[Principal, str]] = {}

    def get(self, token: str, *, keys: JwksCache) -> Principal | None:
        """The token's principal if it was verified and its key is still published."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, kid = entry
        if not keys.knows(kid):
            del self._entries[token]
            return None
        return principal

    def put(self, token: str, principal: Principal, kid: str) -> None:
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = (principal, kid)


class AccessTokenVerifier:
    def __init__(
        self,
        keys: JwksCache,
        *,
        issuer: str,
        audience: str,
        leeway: int = 5,
        revocations: RevocationCheck | None = None,
        verified: VerifiedTokens | None = None,
    ) -> None:
        self.keys = keys
        self.revocations = revocations
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._verified = verified if verified is not None else VerifiedTokens()

    async def verify(self, token: str) -> Principal:
        principal = self._verified.get(token, keys=self.keys)
        if principal is None:
            principal = await self._verify_signed(token)
        elif time.time() >= principal.expires_at + self._leeway:
            raise Unauthenticated("the access token has expired", code="token_expired")
        if self.revocations is not None and self.revocations.is_revoked(principal):
            raise Unauthenticated("the access token has been revoked", code="token_revoked")
        return principal

    async def _verify_signed(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed access token", code="invalid_token") from exc
        if header.get("alg") != ACCESS_TOKEN_ALGORITHM or header.get("typ") != ACCESS_TOKEN_TYPE:
            raise Unauthenticated("unsupported token type or algorithm", code="invalid_token")
        if "crit" in header:
            # RFC 7515: extensions we do not understand must make the token invalid.
            raise Unauthenticated("unsupported critical header", code="invalid_token")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthenticated("the token names no signing key", code="invalid_token")
        key = await self.keys.key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ACCESS_TOKEN_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the access token has expired", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid access token", code="invalid_token") from exc
        principal = _principal(claims)
        self._verified.put(token, principal, kid)
        return principal


def _strings(claims: dict[str, Any], name: str) -> tuple[str, ...]:
    value = claims.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(name)
    return tuple(value)


def _plan(claims: dict[str, Any]) -> str:
    """The optional `plan` claim: absent (tokens minted before plans existed) is ""."""
    value = claims.get("plan", "")
    if not isinstance(value, str):
        raise ValueError("plan")
    return value


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        actor_kind = claims.get("act", USER_ACTOR)
        if actor_kind not in ACTOR_KINDS:
            raise ValueError("act")
        return Principal(
            tenant_id=uuid.UUID(claims["tenant"]),
            user_id=uuid.UUID(claims["sub"]),
            roles=_strings(claims, "roles"),
            token_id=str(claims["jti"]),
            expires_at=int(claims["exp"]),
            issued_at=float(claims["iat"]),
            session_id=str(claims["sid"]) if "sid" in claims else None,
            scopes=_strings(claims, "scopes"),
            actor_kind=actor_kind,
            plan=_plan(claims),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise Unauthenticated(
            "the access token's claims are malformed", code="invalid_token"
        ) from exc
