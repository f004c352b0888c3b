"""Minting access tokens: ES256 JWTs that every service verifies with the JWKS."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from crm_identity.accounts.schemas import AuthenticatedUser
from crm_identity.tokens.keys import KeyStore
from crm_kit.db.models import utcnow


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    access_ttl_seconds: int
    refresh_ttl: timedelta
    refresh_idle: timedelta


def mint_access_token(
    keys: KeyStore, policy: TokenPolicy, user: AuthenticatedUser, *, session_id: str
) -> str:
    now = int(utcnow().timestamp())
    return keys.sign(
        {
            "iss": policy.issuer,
            "aud": policy.audience,
            "sub": str(user.user_id),
            "tenant": str(user.tenant_id),
            "roles": list(user.roles),
            "sid": session_id,
            "iat": now,
            "exp": now + policy.access_ttl_seconds,
            "jti": secrets.token_urlsafe(16),
        }
    )
