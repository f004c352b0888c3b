"""Completing a login with its second factor, or by enrolling the one its tenant
requires (public: the challenge is the credential)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_identity.login import service as login
from crm_identity.mfa import challenges
from crm_identity.mfa import service as mfa
from crm_identity.mfa.factors import check_second_factor
from crm_identity.models import MfaChallenge, User
from crm_identity.sessions import service as sessions
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import PreconditionFailed, ServiceError, Unauthenticated


@dataclass(frozen=True)
class EnrolledLogin:
    """A second factor enrolled during a login, and the session that login started."""

    recovery_codes: list[str]
    tokens: sessions.TokenPair


def _invalid_challenge() -> Unauthenticated:
    return Unauthenticated(
        "the login challenge is invalid or has expired: log in again",
        code="invalid_mfa_challenge",
    )


def _invalid_code() -> Unauthenticated:
    return Unauthenticated("invalid second factor", code="invalid_mfa_code")


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


async def start_enrollment(
    factory: async_sessionmaker[AsyncSession], *, challenge: str, issuer: str
) -> mfa.TotpEnrollment:
    """A pending TOTP secret for the user of an enrollment challenge: a login whose
    password was right in a tenant that requires a second factor they have not got."""
    tenant = await _enrollment_tenant(factory, challenge)
    async with unit_of_work(factory, tenant_id=tenant) as session:
        opened = await _open_enrollment(session, challenge=challenge, now=utcnow())
        if opened is None:
            raise _invalid_challenge()
        _, user = opened
        return await mfa.start_enrollment(session, user_id=user.id, issuer=issuer)


async def confirm_enrollment(
    factory: async_sessionmaker[AsyncSession],
    *,
    challenge: str,
    code: str,
    policies: login.LoginPolicies,
) -> EnrolledLogin:
    """Enable the pending secret of an enrollment challenge's user with a code it
    produced, and complete that login with the same code.

    A wrong code counts as in complete_login, committed before the error is raised.
    """
    tenant = await _enrollment_tenant(factory, challenge)
    async with unit_of_work(factory, tenant_id=tenant) as session:
        outcome = await _enroll(session, challenge=challenge, code=code, policies=policies)
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
    user = await _locked_user(session, pending)
    if user is None:
        return _invalid_challenge()
    if user.totp_secret is None:
        return PreconditionFailed(
            "this account must enroll a second factor before it can log in",
            code="mfa_enrollment_required",
        )
    refusal = _refusal(user, now=now)
    factor = None if refusal else await check_second_factor(session, user=user, code=code)
    if factor is None:
        pending.failed_attempts += 1
        await login.record_failed_attempt(
            session, user=user, reason=refusal or "invalid_mfa_code", policies=policies
        )
        return _invalid_code()
    pending.used_at = now
    return await login.complete(session, user=user, policies=policies)


async def _enroll(
    session: AsyncSession, *, challenge: str, code: str, policies: login.LoginPolicies
) -> EnrolledLogin | ServiceError:
    now = utcnow()
    opened = await _open_enrollment(session, challenge=challenge, now=now)
    if opened is None:
        return _invalid_challenge()
    pending, user = opened
    refusal = _refusal(user, now=now)
    codes = None if refusal else await mfa.enable_pending_secret(session, user=user, code=code)
    if codes is None:
        pending.failed_attempts += 1
        await login.record_failed_attempt(
            session, user=user, reason=refusal or "invalid_mfa_code", policies=policies
        )
        return _invalid_code()
    pending.used_at = now
    tokens = await login.complete(session, user=user, policies=policies)
    return EnrolledLogin(recovery_codes=codes, tokens=tokens)


async def _enrollment_tenant(
    factory: async_sessionmaker[AsyncSession], challenge: str
) -> uuid.UUID:
    """The tenant of a challenge issued as enrollment-required; any other is refused."""
    tenant = (
        await challenges.tenant_of(factory, challenge)
        if challenges.is_enrollment(challenge)
        else None
    )
    if tenant is None:
        raise _invalid_challenge()
    return tenant


async def _open_enrollment(
    session: AsyncSession, *, challenge: str, now: datetime
) -> tuple[MfaChallenge, User] | None:
    """The challenge and its user, both row-locked, if the challenge can still be
    answered and its user still has no second factor."""
    pending = await challenges.lock_open(session, token=challenge, now=now)
    if pending is None or not challenges.is_enrollment(challenge):
        return None
    user = await _locked_user(session, pending)
    if user is None or user.totp_secret is not None:
        return None
    return pending, user


async def _locked_user(session: AsyncSession, pending: MfaChallenge) -> User | None:
    return await session.scalar(select(User).where(User.id == pending.user_id).with_for_update())


def _refusal(user: User, *, now: datetime) -> str | None:
    """Why a user who proved a factor still may not log in, as a login.failed reason."""
    if user.locked_until is not None and user.locked_until > now:
        return "locked"
    if user.status != "active":
        return "deactivated"
    return None
