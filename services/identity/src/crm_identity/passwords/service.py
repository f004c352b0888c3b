"""Changing a password (knowing the current one) and resetting it by an emailed token."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import identity_pb2 as identity_events
from crm_identity import activity
from crm_identity.accounts.service import normalize_email_or_blank
from crm_identity.login.lockout import record_success
from crm_identity.models import PasswordResetToken, User
from crm_identity.passwords.hashing import PasswordHasher
from crm_identity.passwords.policy import check_password_policy
from crm_identity.sessions import service as sessions
from crm_identity.users.repository import LOGIN_EMAIL_GUC, user_repository
from crm_kit.context import current_context
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, NotFound, Unauthenticated

RESET_TOKEN_GUC = "app.reset_token_hash"


@dataclass(frozen=True)
class ResetPolicy:
    ttl: timedelta
    url: str


async def _set_password(
    session: AsyncSession, *, user: User, password: str, hasher: PasswordHasher
) -> None:
    user.password_hash = await hasher.hash(password)
    user.password_changed_at = utcnow()
    await session.flush()


async def change_password(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    current_password: str,
    new_password: str,
    hasher: PasswordHasher,
) -> None:
    """Needs the current password; ends every session but the caller's."""
    user = await session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise NotFound("user not found", code="user_not_found")
    if not await hasher.verify(current_password, user.password_hash):
        raise Unauthenticated("the current password is wrong", code="invalid_current_password")
    check_password_policy(new_password, field="new_password")
    await _set_password(session, user=user, password=new_password, hasher=hasher)
    keep = current_context().session_id
    await sessions.end_all(
        session,
        user_id=user.id,
        reason="password_changed",
        keep=uuid.UUID(keep) if keep else None,
    )
    activity.record(
        session,
        tenant_id=user.tenant_id,
        event_type="password.changed",
        payload=identity_events.PasswordChanged(
            user_id=str(user.id), client=activity.client_info()
        ),
    )


async def request_reset(
    factory: async_sessionmaker[AsyncSession], *, email: str, policy: ResetPolicy
) -> None:
    """Issue a reset token for every active account with this email (one per organization).

    The caller answers the same whatever happens here, so nobody learns whether the
    email exists; the link travels in an event until messaging sends it.
    """
    normalized = normalize_email_or_blank(email)
    if not normalized:
        return
    async with unit_of_work(factory, tenant_id=None, gucs={LOGIN_EMAIL_GUC: normalized}) as session:
        accounts = await user_repository.login_candidates(session, normalized)
    for user in accounts:
        if user.status != "active":
            continue
        async with unit_of_work(factory, tenant_id=user.tenant_id) as session:
            _issue_reset(session, user=user, policy=policy)


def _issue_reset(session: AsyncSession, *, user: User, policy: ResetPolicy) -> None:
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + policy.ttl
    session.add(
        PasswordResetToken(
            id=new_id(),
            tenant_id=user.tenant_id,
            user_id=user.id,
            token_hash=sessions.hash_token(token),
            expires_at=expires_at,
        )
    )
    requested = identity_events.PasswordResetRequested(
        user_id=str(user.id),
        email=user.email,
        reset_url=f"{policy.url}?{urlencode({'token': token})}",
        client=activity.client_info(),
    )
    requested.expires_at.FromDatetime(expires_at)
    activity.record(
        session, tenant_id=user.tenant_id, event_type="password_reset.requested", payload=requested
    )


async def reset_password(
    factory: async_sessionmaker[AsyncSession],
    *,
    token: str,
    new_password: str,
    hasher: PasswordHasher,
) -> None:
    """Spend the token (single use, unexpired), set the password, end every session."""
    check_password_policy(new_password, field="new_password")
    token_hash = sessions.hash_token(token)
    async with unit_of_work(factory, tenant_id=None, gucs={RESET_TOKEN_GUC: token_hash}) as session:
        tenant = await session.scalar(
            select(PasswordResetToken.tenant_id)
            .where(PasswordResetToken.token_hash == token_hash)
            .execution_options(skip_tenant_filter=True)
        )
    invalid = InvalidArgument(
        "the reset link is invalid or has expired", code="invalid_reset_token"
    )
    if tenant is None:
        raise invalid
    async with unit_of_work(factory, tenant_id=tenant) as session:
        spent = await session.scalar(
            update(PasswordResetToken)
            .where(
                PasswordResetToken.token_hash == token_hash,
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > utcnow(),
            )
            .values(used_at=utcnow())
            .returning(PasswordResetToken.user_id)
        )
        user = await session.get(User, spent) if spent else None
        if user is None or user.status != "active":
            raise invalid
        await _set_password(session, user=user, password=new_password, hasher=hasher)
        # Whoever proved the mailbox is the owner: the lock a guesser caused lifts, and
        # any other link sent before stops working.
        await record_success(session, user_id=user.id)
        await session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
            .values(used_at=utcnow())
        )
        await sessions.end_all(session, user_id=user.id, reason="password_reset")
        activity.record(
            session,
            tenant_id=tenant,
            event_type="password.reset",
            payload=identity_events.PasswordChanged(
                user_id=str(user.id), client=activity.client_info()
            ),
        )
