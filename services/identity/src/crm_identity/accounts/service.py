"""Signup, and the email rules every account flow shares."""

from __future__ import annotations

import uuid

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import identity_pb2 as identity_events
from crm_identity.accounts.schemas import SignupData
from crm_identity.events import outbox
from crm_identity.models import Tenant, User
from crm_identity.passwords.hashing import PasswordHasher
from crm_identity.passwords.policy import check_password_policy
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import session_tenant
from crm_kit.errors import InvalidArgument
from crm_kit.validation import clean_text

OWNER_ROLE = "owner"


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


def new_tenant_id() -> uuid.UUID:
    return new_id()


async def signup(session: AsyncSession, *, data: SignupData, hasher: PasswordHasher) -> User:
    """Create the session's tenant and its owner, and publish tenant.created."""
    tenant_id = session_tenant(session)
    name = clean_text(
        data.organization_name, field="organization_name", max_length=200, required=True
    )
    owner_name = clean_text(data.owner_name, field="owner_name", max_length=200, required=True)
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
        password_changed_at=utcnow(),
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
