"""Login: find the account, check the password outside any transaction, then settle the
attempt (lockout counters, session or second-factor challenge, events) in a
transaction bound to its tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import identity_pb2 as identity_events
from crm_identity import activity
from crm_identity.accounts.schemas import AuthenticatedUser, Credentials
from crm_identity.accounts.service import normalize_email_or_blank
from crm_identity.login.lockout import LockoutPolicy, record_failure, record_success
from crm_identity.mfa import challenges
from crm_identity.mfa.challenges import PendingSecondFactor
from crm_identity.models import Tenant, User
from crm_identity.passwords.hashing import PasswordHasher
from crm_identity.plans import service as plans
from crm_identity.sessions import service as sessions
from crm_identity.tokens.access import TokenPolicy
from crm_identity.tokens.keys import KeyStore
from crm_identity.users.repository import LOGIN_EMAIL_GUC, user_repository
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Unauthenticated

INVALID_CREDENTIALS = "invalid email or password"

# A token pair, or a challenge to answer with a second factor (MfaService.CompleteMfaLogin).
LoginResult = sessions.TokenPair | PendingSecondFactor


@dataclass(frozen=True)
class LoginPolicies:
    hasher: PasswordHasher
    lockout: LockoutPolicy
    keys: KeyStore
    tokens: TokenPolicy
    # How long a password-verified login waits for its second factor.
    mfa_challenge_ttl: timedelta = timedelta(minutes=5)


def _invalid() -> Unauthenticated:
    return Unauthenticated(INVALID_CREDENTIALS, code="invalid_credentials")


async def log_in(
    factory: async_sessionmaker[AsyncSession], *, credentials: Credentials, policies: LoginPolicies
) -> LoginResult:
    """A token pair (or a second-factor challenge), or one uniform Unauthenticated.

    Unknown email, wrong password, locked and deactivated accounts fail alike and
    cost the same bcrypt work; failures are committed before the error is raised.
    """
    user = await _find_account(factory, credentials)
    password_ok = await policies.hasher.verify(
        credentials.password, user.password_hash if user else None
    )
    if user is None:
        raise _invalid()
    async with unit_of_work(factory, tenant_id=user.tenant_id) as session:
        result = await _settle(
            session,
            user=user,
            password=credentials.password,
            password_ok=password_ok,
            policies=policies,
        )
    if result is None:
        raise _invalid()
    return result


async def _find_account(
    factory: async_sessionmaker[AsyncSession], credentials: Credentials
) -> User | None:
    email = normalize_email_or_blank(credentials.email)
    async with unit_of_work(factory, tenant_id=None, gucs={LOGIN_EMAIL_GUC: email}) as session:
        candidates = await user_repository.login_candidates(session, email) if email else []
    if credentials.tenant_id is not None:
        candidates = [u for u in candidates if u.tenant_id == credentials.tenant_id]
    # An email in several organizations names one with tenant_id. Without it the login
    # fails exactly like an unknown email (one dummy bcrypt, no hint): answering
    # anything else would let a guesser test passwords outside the lockout, or learn
    # where the email has accounts.
    return candidates[0] if len(candidates) == 1 else None


async def _settle(
    session: AsyncSession,
    *,
    user: User,
    password: str,
    password_ok: bool,
    policies: LoginPolicies,
) -> LoginResult | None:
    now = utcnow()
    # Fresh and locked: a parallel attempt may have just locked the account.
    current = await session.scalar(select(User).where(User.id == user.id).with_for_update())
    if current is None:
        return None
    locked = current.locked_until is not None and current.locked_until > now
    if not password_ok or locked or current.status != "active":
        reason = "invalid_password" if not password_ok else ("locked" if locked else "deactivated")
        await record_failed_attempt(session, user=current, reason=reason, policies=policies)
        return None
    if policies.hasher.needs_rehash(current.password_hash):
        current.password_hash = await policies.hasher.hash(password)
    tenant = await session.get(Tenant, current.tenant_id)
    if current.totp_secret is not None or (tenant is not None and tenant.mfa_required):
        # The failure counters stay as they are until the second factor passes too,
        # so wrong codes keep adding up towards the lockout across fresh challenges.
        return await challenges.issue(
            session,
            user=current,
            enrollment_required=current.totp_secret is None,
            ttl=policies.mfa_challenge_ttl,
        )
    return await complete(session, user=current, policies=policies)


async def complete(
    session: AsyncSession, *, user: User, policies: LoginPolicies
) -> sessions.TokenPair:
    """The last step of a login that proved everything it had to: clear the failure
    counters, start the session and publish login.succeeded."""
    await record_success(session, user_id=user.id)
    identity = AuthenticatedUser(
        tenant_id=user.tenant_id,
        user_id=user.id,
        roles=tuple(user.roles),
        # Already loaded by a password login (identity map): no extra query there.
        plan=await plans.plan_of(session, tenant_id=user.tenant_id),
    )
    pair = await sessions.start(session, user=identity, keys=policies.keys, policy=policies.tokens)
    activity.record(
        session,
        tenant_id=user.tenant_id,
        event_type="login.succeeded",
        payload=identity_events.LoginSucceeded(
            user_id=str(user.id), session_id=str(pair.session_id), client=activity.client_info()
        ),
    )
    return pair


async def record_failed_attempt(
    session: AsyncSession, *, user: User, reason: str, policies: LoginPolicies
) -> None:
    """Count a failed password or second factor towards the lockout, and publish it."""
    count = await record_failure(session, user_id=user.id, policy=policies.lockout, now=utcnow())
    client = activity.client_info()
    activity.record(
        session,
        tenant_id=user.tenant_id,
        event_type="login.failed",
        payload=identity_events.LoginFailed(
            user_id=str(user.id),
            reason=reason,
            consecutive_failures=count.consecutive,
            client=client,
        ),
    )
    if count.locked_until is not None:
        locked = identity_events.AccountLocked(user_id=str(user.id), client=client)
        locked.locked_until.FromDatetime(count.locked_until)
        activity.record(
            session, tenant_id=user.tenant_id, event_type="account.locked", payload=locked
        )
