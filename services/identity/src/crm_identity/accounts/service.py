"""Signup, and the email rules every account flow shares."""

from __future__ import annotations

import uuid

import phonenumbers
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


def normalize_phone(phone: str | None, *, field: str = "phone") -> str | None:
    """A valid international number in E.164 form (`+14155550123`); blank is None."""
    if phone is None or not phone.strip():
        return None
    invalid = InvalidArgument(
        "phone must be an international number in E.164 form, like +14155550123",
        code="invalid_phone",
        field=field,
    )
    if not phone.strip().startswith("+") or len(phone) > 32:
        raise invalid
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as exc:
        raise invalid from exc
    if not phonenumbers.is_valid_number(parsed):
        raise invalid
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def require_age_attestation(age_attested: bool) -> None:
    """Accounts are for people 18 or older, who must say so when they create one."""
    if not age_attested:
        raise InvalidArgument(
            "you must attest that you are 18 or older",
            code="age_attestation_required",
            field="age_attested",
        )


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
    phone = normalize_phone(data.phone)
    require_age_attestation(data.age_attested)
    check_password_policy(data.password)
    now = utcnow()
    session.add(Tenant(id=tenant_id, name=name))
    owner = User(
        id=new_id(),
        tenant_id=tenant_id,
        name=owner_name,
        email=data.email.strip(),
        email_normalized=email,
        password_hash=await hasher.hash(data.password),
        password_changed_at=now,
        roles=[OWNER_ROLE],
        phone=phone,
        age_attested_at=now,
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
