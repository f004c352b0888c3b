"""Signup and login."""

from __future__ import annotations

import uuid

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import identity_pb2 as identity_events
from crm_identity.accounts.passwords import PasswordHasher, check_password_policy
from crm_identity.accounts.repository import user_repository
from crm_identity.accounts.schemas import AuthenticatedUser, Credentials, SignupData
from crm_identity.events import outbox
from crm_identity.models import Tenant, User
from crm_kit.db.models import new_id
from crm_kit.db.session import session_tenant
from crm_kit.errors import InvalidArgument, Unauthenticated

OWNER_ROLE = "owner"
INVALID_CREDENTIALS = "invalid email or password"


def normalize_email(email: str) -> str:
    """The canonical form used for uniqueness and login (case-insensitive, IDNA domain)."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidArgument(str(exc), code="invalid_email", field="email") from exc


def normalize_email_or_blank(email: str) -> str:
    """For login: a malformed email simply matches nobody."""
    try:
        return normalize_email(email)
    except InvalidArgument:
        return ""


def _required(value: str, field: str, *, max_length: int = 200) -> str:
    value = value.strip()
    if not value:
        raise InvalidArgument(f"{field} is required", code="required", field=field)
    if len(value) > max_length:
        raise InvalidArgument(f"{field} is too long", code="too_long", field=field)
    return value


def new_tenant_id() -> uuid.UUID:
    return new_id()


async def signup(session: AsyncSession, *, data: SignupData, hasher: PasswordHasher) -> User:
    """Create the session's tenant and its owner, and publish tenant.created."""
    tenant_id = session_tenant(session)
    name = _required(data.organization_name, "organization_name")
    owner_name = _required(data.owner_name, "owner_name")
    email = normalize_email(data.email)
    check_password_policy(data.password)
    session.add(Tenant(id=tenant_id, name=name))
    owner = User(
        id=new_id(),
        tenant_id=tenant_id,
        name=owner_name,
        email=data.email.strip(),
        email_normalized=email,
        password_hash=await hasher.hash(data.password),
        roles=[OWNER_ROLE],
    )
    session.add(owner)
    await session.flush()
    outbox.add(
        session,
        event_type="identity.tenant.created",
        tenant_id=tenant_id,
        payload=identity_events.TenantCreated(
            tenant_id=str(tenant_id), name=name, owner_user_id=str(owner.id)
        ),
    )
    return owner


async def authenticate(
    session: AsyncSession, *, credentials: Credentials, hasher: PasswordHasher
) -> AuthenticatedUser:
    """The user these credentials prove, or one uniform Unauthenticated error."""
    email = normalize_email_or_blank(credentials.email)
    candidates = await user_repository.login_candidates(session, email) if email else []
    if credentials.tenant_id is not None:
        candidates = [u for u in candidates if u.tenant_id == credentials.tenant_id]
    if len(candidates) > 1:
        await _refuse_ambiguous(candidates, credentials.password, hasher)
    user = candidates[0] if candidates else None
    valid = await hasher.verify(credentials.password, user.password_hash if user else None)
    if user is None or not valid or user.status != "active":
        raise Unauthenticated(INVALID_CREDENTIALS, code="invalid_credentials")
    return AuthenticatedUser(tenant_id=user.tenant_id, user_id=user.id, roles=tuple(user.roles))


async def _refuse_ambiguous(candidates: list[User], password: str, hasher: PasswordHasher) -> None:
    """Only someone who knows a password learns that the email spans organizations."""
    for user in candidates:
        if await hasher.verify(password, user.password_hash):
            raise InvalidArgument(
                "this email belongs to several organizations: pass tenant_id",
                code="tenant_required",
                field="tenant_id",
            )
    raise Unauthenticated(INVALID_CREDENTIALS, code="invalid_credentials")
