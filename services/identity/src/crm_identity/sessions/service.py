"""Session use cases on a tenant-bound session: start, rotate, end, list."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import identity_pb2 as identity_events
from crm_identity import activity
from crm_identity.accounts.schemas import AuthenticatedUser
from crm_identity.models import RefreshToken, Tenant, User, UserSession
from crm_identity.plans.service import DEFAULT_PLAN
from crm_identity.revocation import revoke_access
from crm_identity.tokens.access import TokenPolicy, mint_access_token
from crm_identity.tokens.keys import KeyStore
from crm_kit.context import current_context
from crm_kit.db.models import new_id, utcnow
from crm_kit.errors import NotFound


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID


def hash_token(token: str) -> str:
    """SHA-256, hex: what is stored of refresh and reset tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


async def start(
    session: AsyncSession, *, user: AuthenticatedUser, keys: KeyStore, policy: TokenPolicy
) -> TokenPair:
    """A new session for a user who just proved who they are, and its first token pair."""
    ctx = current_context()
    now = utcnow()
    user_session = UserSession(
        id=new_id(),
        tenant_id=user.tenant_id,
        user_id=user.user_id,
        created_at=now,
        last_used_at=now,
        expires_at=now + policy.refresh_ttl,
        ip=ctx.client_ip,
        user_agent=ctx.user_agent,
    )
    session.add(user_session)
    await session.flush()
    return await _issue(session, user=user, user_session=user_session, keys=keys, policy=policy)


async def _issue(
    session: AsyncSession,
    *,
    user: AuthenticatedUser,
    user_session: UserSession,
    keys: KeyStore,
    policy: TokenPolicy,
) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        RefreshToken(
            id=new_id(),
            tenant_id=user.tenant_id,
            user_id=user.user_id,
            family_id=user_session.id,
            token_hash=hash_token(refresh),
            created_at=now,
            expires_at=min(user_session.expires_at, now + policy.refresh_idle),
        )
    )
    await session.flush()
    return TokenPair(
        access_token=mint_access_token(keys, policy, user, session_id=str(user_session.id)),
        expires_in=policy.access_ttl_seconds,
        refresh_token=refresh,
        tenant_id=user.tenant_id,
        user_id=user.user_id,
        session_id=user_session.id,
    )


async def rotate(
    session: AsyncSession, *, token: str, keys: KeyStore, policy: TokenPolicy
) -> TokenPair | None:
    """Spend `token` atomically and issue the next pair of its session; None if refused.

    A token that was already spent is a replay: its session ends, so a stolen token
    stops working for the thief and the victim alike. Refusal is a return value, not
    an exception, so the caller commits the ending.
    """
    now = utcnow()
    spent = await session.scalar(
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == hash_token(token),
            RefreshToken.spent_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(spent_at=now)
        .returning(RefreshToken)
    )
    if spent is None:
        await _end_on_replay(session, token)
        return None
    user_session = await session.get(UserSession, spent.family_id)
    user = await session.get(User, spent.user_id)
    if user_session is None or user_session.ended_at is not None or user is None:
        return None
    if user.status != "active" or user_session.expires_at <= now:
        return None
    tenant = await session.get(Tenant, user.tenant_id)
    if tenant is not None and tenant.mfa_required and user.totp_secret is None:
        # The organization now requires a second factor this user does not have.
        return None
    user_session.last_used_at = now
    identity = AuthenticatedUser(
        tenant_id=user.tenant_id,
        user_id=user.id,
        roles=tuple(user.roles),
        plan=tenant.plan if tenant is not None else DEFAULT_PLAN,
    )
    return await _issue(session, user=identity, user_session=user_session, keys=keys, policy=policy)


async def _end_on_replay(session: AsyncSession, token: str) -> None:
    replayed = await session.scalar(
        select(RefreshToken).where(
            RefreshToken.token_hash == hash_token(token), RefreshToken.spent_at.is_not(None)
        )
    )
    if replayed is None:
        return
    await end(session, session_id=replayed.family_id, reason="refresh_token_reused")
    activity.record(
        session,
        tenant_id=replayed.tenant_id,
        event_type="refresh_token.reused",
        payload=identity_events.RefreshTokenReused(
            user_id=str(replayed.user_id),
            session_id=str(replayed.family_id),
            client=activity.client_info(),
        ),
    )


async def end(session: AsyncSession, *, session_id: uuid.UUID, reason: str) -> bool:
    """End one session and revoke its refresh tokens; False if it had already ended."""
    now = utcnow()
    ended = await session.scalar(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .returning(UserSession)
    )
    if ended is None:
        return False
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == session_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    revoke_access(
        session,
        tenant_id=ended.tenant_id,
        user_id=ended.user_id,
        session_id=session_id,
        reason=reason,
    )
    activity.record(
        session,
        tenant_id=ended.tenant_id,
        event_type="session.ended",
        payload=identity_events.SessionEnded(
            user_id=str(ended.user_id), session_id=str(session_id), reason=reason
        ),
    )
    return True


async def end_all(
    session: AsyncSession, *, user_id: uuid.UUID, reason: str, keep: uuid.UUID | None = None
) -> int:
    """End every open session of a user, except `keep`; how many ended."""
    open_ids = await session.scalars(
        select(UserSession.id).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    )
    ended = 0
    for session_id in list(open_ids):
        if session_id != keep and await end(session, session_id=session_id, reason=reason):
            ended += 1
    return ended


async def list_open(session: AsyncSession, *, user_id: uuid.UUID) -> list[UserSession]:
    now = utcnow()
    return list(
        await session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.ended_at.is_(None),
                UserSession.expires_at > now,
            )
            .order_by(UserSession.last_used_at.desc())
        )
    )


async def end_own(session: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """A user ends one of their own sessions; another user's answers not found."""
    owned = await session.scalar(
        select(UserSession.id).where(UserSession.id == session_id, UserSession.user_id == user_id)
    )
    if owned is None:
        raise NotFound("session not found", code="session_not_found")
    await end(session, session_id=session_id, reason="ended_by_user")


async def session_of_token(session: AsyncSession, token: str) -> uuid.UUID | None:
    return await session.scalar(
        select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_token(token))
    )


def is_current(user_session: UserSession) -> bool:
    return current_context().session_id == str(user_session.id)
