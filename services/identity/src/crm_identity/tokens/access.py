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


def sign_access_token(
    keys: KeyStore,
    policy: TokenPolicy,
    *,
    subject: str,
    tenant_id: str,
    roles: list[str],
    plan: str,
    expires_in: int,
    extra: dict[str, object] | None = None,
) -> str:
    """The one claim layout of every access token identity mints.

    `plan` is the tenant's billing plan ("" = default): the gateway picks the caller's
    rate limits from it without a lookup, so a plan change applies from the next token.
    `iat` keeps milliseconds (NumericDate allows fractions), so a token minted just
    after a revocation is told apart from one minted in the same second before it.
    """
    now = utcnow().timestamp()
    return keys.sign(
        {
            "iss": policy.issuer,
            "aud": policy.audience,
            "sub": subject,
            "tenant": tenant_id,
            "roles": roles,
            "plan": plan,
            **(extra or {}),
            "iat": round(now, 3),
            "exp": int(now) + expires_in,
            "jti": secrets.token_urlsafe(16),
        }
    )


def mint_access_token(
    keys: KeyStore, policy: TokenPolicy, user: AuthenticatedUser, *, session_id: str
) -> str:
    return sign_access_token(
        keys,
        policy,
        subject=str(user.user_id),
        tenant_id=str(user.tenant_id),
        roles=list(user.roles),
        plan=user.plan,
        expires_in=policy.access_ttl_seconds,
        extra={"sid": session_id},
    )
