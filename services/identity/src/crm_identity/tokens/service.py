"""Issuing token pairs and rotating refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_identity.accounts.schemas import AuthenticatedUser
from crm_identity.models import RefreshToken, User
from crm_identity.tokens.keys import KeyStore
from crm_kit.db.models import new_id, utcnow
from crm_kit.errors import Unauthenticated

# Set per transaction by refresh; an RLS policy lets it read the one row with that hash.
TOKEN_HASH_GUC = "app.refresh_token_hash"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    tenant_id: uuid.UUID
    user_id: uuid.UUID


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    access_ttl_seconds: int
    refresh_ttl: timedelta


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_access_token(keys: KeyStore, policy: TokenPolicy, user: AuthenticatedUser) -> str:
    now = int(utcnow().timestamp())
    return keys.sign(
        {
            "iss": policy.issuer,
            "aud": policy.audience,
            "sub": str(user.user_id),
            "tenant": str(user.tenant_id),
            "roles": list(user.roles),
            "iat": now,
            "exp": now + policy.access_ttl_seconds,
            "jti": secrets.token_urlsafe(16),
        }
    )


async def issue_pair(
    session: AsyncSession,
    *,
    user: AuthenticatedUser,
    keys: KeyStore,
    policy: TokenPolicy,
    family_id: uuid.UUID | None = None,
) -> TokenPair:
    """A new access token and a refresh token (new family unless one is given)."""
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            id=new_id(),
            tenant_id=user.tenant_id,
            user_id=user.user_id,
            family_id=family_id or new_id(),
            token_hash=hash_refresh_token(refresh),
            expires_at=utcnow() + policy.refresh_ttl,
        )
    )
    await session.flush()
    return TokenPair(
        access_token=mint_access_token(keys, policy, user),
        expires_in=policy.access_ttl_seconds,
        refresh_token=refresh,
        tenant_id=user.tenant_id,
        user_id=user.user_id,
    )


async def find_refresh_token_tenant(session: AsyncSession, token_hash: str) -> uuid.UUID:
    """The tenant of a refresh token (session must carry TOKEN_HASH_GUC)."""
    tenant = await session.scalar(
        select(RefreshToken.tenant_id)
        .where(RefreshToken.token_hash == token_hash)
        .execution_options(skip_tenant_filter=True)
    )
    if tenant is None:
        raise Unauthenticated("invalid refresh token", code="invalid_refresh_token")
    return tenant


async def rotate(
    session: AsyncSession, *, token: str, keys: KeyStore, policy: TokenPolicy
) -> TokenPair | None:
    """Spend `token` atomically and issue the next pair of its family; None if refused.

    A token that was already spent is a replay: the whole family is revoked, so a
    stolen token stops working for the thief and the victim alike. Refusal is a
    return value, not an exception, so the caller commits the revocation.
    """
    now = utcnow()
    spent = await session.scalar(
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == hash_refresh_token(token),
            RefreshToken.spent_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(spent_at=now)
        .returning(RefreshToken)
    )
    if spent is None:
        await _revoke_family_of(session, token)
        return None
    user = await session.scalar(select(User).where(User.id == spent.user_id))
    if user is None or user.status != "active":
        return None
    identity = AuthenticatedUser(tenant_id=user.tenant_id, user_id=user.id, roles=tuple(user.roles))
    return await issue_pair(
        session, user=identity, keys=keys, policy=policy, family_id=spent.family_id
    )


async def _revoke_family_of(session: AsyncSession, token: str) -> None:
    family = await session.scalar(
        select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_refresh_token(token))
    )
    if family is not None:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
