"""Completing a login with its second factor (public: the challenge is the credential)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_identity.login import service as login
from crm_identity.mfa import challenges
from crm_identity.mfa.factors import check_second_factor
from crm_identity.models import User
from crm_identity.sessions import service as sessions
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import PreconditionFailed, ServiceError, Unauthenticated


def _invalid_challenge() -> Unauthenticated:
    return Unauthenticated(
        "the login challenge is invalid or has expired: log in again",
        code="invalid_mfa_challenge",
    )


async def complete_login(
    factory: async_sessionmaker[AsyncSession],
    *,
    challenge: str,
    code: str,
    policies: login.LoginPolicies,
) -> sessions.TokenPair:
    """Answer a login challenge with a TOTP code or a recovery code: a token pair.

    A wrong code counts against the challenge (it dies after a few) and towards the
    account lockout; both counts are committed before the error is raised.
    """
    tenant = await challenges.tenant_of(factory, challenge)
    if tenant is None:
        raise _invalid_challenge()
    async with unit_of_work(factory, tenant_id=tenant) as session:
        outcome = await _answer(session, challenge=challenge, code=code, policies=policies)
    if isinstance(outcome, ServiceError):
        raise outcome
    return outcome


async def _answer(
    session: AsyncSession, *, challenge: str, code: str, policies: login.LoginPolicies
) -> sessions.TokenPair | ServiceError:
    now = utcnow()
    pending = await challenges.lock_open(session, token=challenge, now=now)
    if pending is None:
        return _invalid_challenge()
    user = await session.scalar(select(User).where(User.id == pending.user_id).with_for_update())
    if user is None:
        return _invalid_challenge()
    if user.totp_secret is None:
        return PreconditionFailed(
            "this account must enroll a second factor before it can log in",
            code="mfa_enrollment_required",
        )
    locked = user.locked_until is not None and user.locked_until > now
    if locked or user.status != "active":
        reason = "locked" if locked else "deactivated"
        factor = None
    else:
        reason = "invalid_mfa_code"
        factor = await check_second_factor(session, user=user, code=code)
    if factor is None:
        pending.failed_attempts += 1
        await login.record_failed_attempt(session, user=user, reason=reason, policies=policies)
        return Unauthenticated("invalid second factor", code="invalid_mfa_code")
    pending.used_at = now
    return await login.complete(session, user=user, policies=policies)
