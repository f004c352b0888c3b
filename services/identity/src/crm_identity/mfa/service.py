"""Second-factor use cases of a signed-in user and of the tenant's owner.

Each takes the caller's tenant-bound session and row-locks the user it changes, so
TOTP steps and recovery codes are spent one request at a time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import identity_pb2 as identity_events
from crm_identity import activity
from crm_identity.mfa import recovery_codes, totp
from crm_identity.mfa.factors import check_second_factor
from crm_identity.models import Tenant, User
from crm_identity.passwords.hashing import PasswordHasher
from crm_identity.users.roles import load_actor
from crm_kit.db.models import utcnow
from crm_kit.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Unauthenticated,
)

OWNER_ROLE = "owner"


@dataclass(frozen=True)
class TotpEnrollment:
    secret: str
    otpauth_uri: str


async def start_enrollment(
    session: AsyncSession, *, user_id: uuid.UUID, issuer: str
) -> TotpEnrollment:
    """A new pending secret; it replaces the enabled one only once a code confirms it."""
    user = await _locked_user(session, user_id)
    if user.totp_secret is not None:
        raise Conflict(
            "a second factor is already enabled: disable it first", code="mfa_already_enabled"
        )
    secret = totp.new_secret()
    user.totp_pending_secret = secret
    await session.flush()
    return TotpEnrollment(
        secret=secret, otpauth_uri=totp.otpauth_uri(secret, account=user.email, issuer=issuer)
    )


async def confirm_enrollment(session: AsyncSession, *, user_id: uuid.UUID, code: str) -> list[str]:
    """Enable the pending secret with a code it produced; the recovery codes, once."""
    user = await _locked_user(session, user_id)
    codes = await enable_pending_secret(session, user=user, code=code)
    if codes is None:
        raise InvalidArgument(
            "the code does not match the authenticator", code="invalid_mfa_code", field="code"
        )
    return codes


async def enable_pending_secret(
    session: AsyncSession, *, user: User, code: str
) -> list[str] | None:
    """Enable `user`'s pending secret if `code` is one it produced: the recovery codes,
    shown once; None if the code does not match. The caller holds the user's row lock."""
    if user.totp_secret is not None:
        raise Conflict("a second factor is already enabled", code="mfa_already_enabled")
    pending = user.totp_pending_secret
    if pending is None:
        raise PreconditionFailed(
            "start an enrollment before confirming it", code="mfa_enrollment_not_started"
        )
    if not await totp.verify(session, user=user, secret=pending, code=code):
        return None
    user.totp_secret = pending
    user.totp_pending_secret = None
    user.mfa_enabled_at = utcnow()
    codes = await recovery_codes.replace_all(session, user=user)
    _record(session, user=user, event_type="mfa.enabled")
    return codes


async def disable(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    password: str,
    code: str,
    hasher: PasswordHasher,
) -> None:
    """Needs the password and a second factor; refused while the tenant requires MFA."""
    user = await _locked_user(session, user_id)
    if user.totp_secret is None:
        raise PreconditionFailed("no second factor is enabled", code="mfa_not_enabled")
    tenant = await session.get(Tenant, user.tenant_id)
    if tenant is not None and tenant.mfa_required:
        raise PreconditionFailed(
            "your organization requires a second factor", code="mfa_required_by_tenant"
        )
    if not await hasher.verify(password, user.password_hash):
        raise Unauthenticated("the password is wrong", code="invalid_password")
    await _require_second_factor(session, user=user, code=code)
    user.totp_secret = None
    user.totp_pending_secret = None
    user.mfa_enabled_at = None
    await recovery_codes.delete_all(session, user_id=user.id)
    _record(session, user=user, event_type="mfa.disabled")


async def regenerate_recovery_codes(
    session: AsyncSession, *, user_id: uuid.UUID, code: str
) -> list[str]:
    """A fresh set of recovery codes for a second factor; the old ones stop working."""
    user = await _locked_user(session, user_id)
    if user.totp_secret is None:
        raise PreconditionFailed("no second factor is enabled", code="mfa_not_enabled")
    await _require_second_factor(session, user=user, code=code)
    codes = await recovery_codes.replace_all(session, user=user)
    _record(session, user=user, event_type="mfa.recovery_codes_regenerated")
    return codes


async def set_tenant_requirement(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    roles: tuple[str, ...],
    required: bool,
) -> None:
    """Owner only. An owner without a second factor cannot require one, so the owner
    who turns the requirement on can still log in."""
    # The role the database holds now, not the token's: a demotion counts at once.
    if OWNER_ROLE not in roles or (await load_actor(session, user_id=user_id)).role != OWNER_ROLE:
        raise PermissionDenied(
            "only an owner can change the organization's MFA requirement", code="owner_required"
        )
    tenant = await session.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
    if tenant is None:
        raise NotFound("organization not found", code="tenant_not_found")
    owner = await _locked_user(session, user_id)
    if required and owner.totp_secret is None:
        raise PreconditionFailed(
            "enable a second factor on your own account first", code="mfa_not_enabled"
        )
    if tenant.mfa_required == required:
        return
    tenant.mfa_required = required
    _record(session, user=owner, event_type="mfa.tenant_requirement_changed", required=required)


async def _locked_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None:
        raise NotFound("user not found", code="user_not_found")
    return user


async def _require_second_factor(session: AsyncSession, *, user: User, code: str) -> None:
    if await check_second_factor(session, user=user, code=code) is None:
        raise Unauthenticated("invalid second factor", code="invalid_mfa_code")


def _record(session: AsyncSession, *, user: User, event_type: str, required: bool = False) -> None:
    activity.record(
        session,
        tenant_id=user.tenant_id,
        event_type=event_type,
        payload=identity_events.MfaChanged(
            user_id=str(user.id), required=required, client=activity.client_info()
        ),
    )
