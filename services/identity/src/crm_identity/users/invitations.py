"""Invitations: send, list, resend, revoke, and accept by the emailed link.

The token is 256 random bits; only its SHA-256 is stored and it travels once, in the
invitation.sent event that is the email's content. Acceptance is single use.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_identity.accounts.service import normalize_email, require_age_attestation
from crm_identity.models import Invitation, User
from crm_identity.passwords.hashing import PasswordHasher
from crm_identity.passwords.policy import check_password_policy
from crm_identity.sessions.service import hash_token
from crm_identity.users import events
from crm_identity.users.repository import (
    INVITATION_TOKEN_GUC,
    invitation_repository,
    tenant_repository,
    user_repository,
)
from crm_identity.users.roles import OWNER, Actor, checked_role, load_actor
from crm_identity.users.schemas import (
    InvitationAcceptance,
    InvitationCreate,
    InvitationPolicy,
    JoinedUser,
)
from crm_kit.db.models import new_id, utcnow
from crm_kit.db.session import session_tenant, unit_of_work
from crm_kit.errors import Conflict, InvalidArgument, NotFound, PreconditionFailed
from crm_kit.validation import clean_text

PENDING, ACCEPTED, REVOKED, EXPIRED = "pending", "accepted", "revoked", "expired"


def status_of(invitation: Invitation, *, now: datetime) -> str:
    if invitation.accepted_at is not None:
        return ACCEPTED
    if invitation.revoked_at is not None:
        return REVOKED
    return EXPIRED if invitation.expires_at <= now else PENDING


def _invalid_invitation() -> InvalidArgument:
    # One answer for unknown, used, revoked and expired tokens.
    return InvalidArgument(
        "the invitation link is invalid or has expired", code="invalid_invitation"
    )


async def _manager(session: AsyncSession, actor_id: uuid.UUID) -> Actor:
    actor = await load_actor(session, user_id=actor_id)
    actor.require_manager()
    return actor


async def _locked(session: AsyncSession, invitation_id: uuid.UUID) -> Invitation:
    invitation = await invitation_repository.lock(session, invitation_id)
    if invitation is None:
        raise NotFound("invitation not found", code="invitation_not_found")
    return invitation


def _new_token(invitation: Invitation, *, policy: InvitationPolicy, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token)
    invitation.expires_at = now + policy.ttl
    return token


async def invite(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    data: InvitationCreate,
    policy: InvitationPolicy,
) -> Invitation:
    """Invite someone who is not yet a user here; only an owner invites an owner."""
    email = normalize_email(data.email)
    role = checked_role(data.role)
    name = clean_text(data.name, field="name", max_length=200)
    actor = await _manager(session, actor_id)
    if role == OWNER:
        actor.require_owner("invite an owner")
    await invitation_repository.serialize_email(session, email)
    existing = await user_repository.by_email(session, email)
    if existing is not None:
        if existing.status == "active":
            raise Conflict("this email already belongs to a user here", code="user_exists")
        raise Conflict(
            "this email belongs to a deactivated user here: reactivate them instead",
            code="user_deactivated",
        )
    now = utcnow()
    if await invitation_repository.pending_for(session, email, now=now) is not None:
        raise Conflict(
            "this email already has a pending invitation: resend it instead",
            code="invitation_pending",
        )
    invitation = Invitation(
        id=new_id(),
        tenant_id=session_tenant(session),
        email=data.email.strip(),
        email_normalized=email,
        name=name,
        role=role,
        invited_by=actor.user_id,
        created_at=now,
    )
    token = _new_token(invitation, policy=policy, now=now)
    session.add(invitation)
    await session.flush()
    events.user_invited(session, invitation=invitation)
    events.invitation_sent(session, invitation=invitation, token=token, invitation_url=policy.url)
    return invitation


async def list_invitations(session: AsyncSession, *, actor_id: uuid.UUID) -> list[Invitation]:
    await _manager(session, actor_id)
    return await invitation_repository.list_all(session)


async def resend(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    invitation_id: uuid.UUID,
    policy: InvitationPolicy,
) -> Invitation:
    """A new link with a fresh expiry; the previous link stops working."""
    actor = await _manager(session, actor_id)
    invitation = await _locked(session, invitation_id)
    now = utcnow()
    if status_of(invitation, now=now) not in (PENDING, EXPIRED):
        raise Conflict(
            f"the invitation is {status_of(invitation, now=now)}: it cannot be resent",
            code="invitation_closed",
        )
    if invitation.role == OWNER:
        actor.require_owner("invite an owner")
    token = _new_token(invitation, policy=policy, now=now)
    await session.flush()
    events.invitation_sent(session, invitation=invitation, token=token, invitation_url=policy.url)
    return invitation


async def revoke(
    session: AsyncSession, *, actor_id: uuid.UUID, invitation_id: uuid.UUID
) -> Invitation:
    """The link stops working. Revoking twice is harmless; an accepted one cannot be."""
    await _manager(session, actor_id)
    invitation = await _locked(session, invitation_id)
    if invitation.accepted_at is not None:
        raise Conflict("the invitation was already accepted", code="invitation_closed")
    if invitation.revoked_at is not None:
        return invitation
    invitation.revoked_at = utcnow()
    await session.flush()
    events.invitation_revoked(session, invitation=invitation)
    return invitation


async def accept(
    factory: async_sessionmaker[AsyncSession],
    *,
    acceptance: InvitationAcceptance,
    hasher: PasswordHasher,
) -> JoinedUser:
    """Spend the token (once, unexpired, unrevoked) and create the user with its role."""
    require_age_attestation(acceptance.age_attested)
    check_password_policy(acceptance.password)
    token_hash = hash_token(acceptance.token)
    gucs = {INVITATION_TOKEN_GUC: token_hash}
    async with unit_of_work(factory, tenant_id=None, gucs=gucs) as session:
        tenant_id = await invitation_repository.tenant_of_token(session, token_hash)
    if tenant_id is None:
        raise _invalid_invitation()
    # Hashed before the transaction, so no row stays locked through the bcrypt work.
    password_hash = await hasher.hash(acceptance.password)
    async with unit_of_work(factory, tenant_id=tenant_id) as session:
        user = await _join(
            session, token_hash=token_hash, acceptance=acceptance, password_hash=password_hash
        )
    return JoinedUser(tenant_id=tenant_id, user_id=user.id)


async def _join(
    session: AsyncSession,
    *,
    token_hash: str,
    acceptance: InvitationAcceptance,
    password_hash: str,
) -> User:
    now = utcnow()
    invitation = await invitation_repository.claim(session, token_hash, now=now)
    if invitation is None:
        raise _invalid_invitation()
    tenant = await tenant_repository.get(session)
    if tenant is None or tenant.status != "active":
        raise PreconditionFailed("the organization is not active", code="tenant_not_active")
    name = clean_text(
        acceptance.name or invitation.name, field="name", max_length=200, required=True
    )
    await invitation_repository.serialize_email(session, invitation.email_normalized)
    if await user_repository.by_email(session, invitation.email_normalized) is not None:
        raise Conflict("this email already belongs to a user here", code="user_exists")
    user = User(
        id=new_id(),
        tenant_id=invitation.tenant_id,
        name=name,
        email=invitation.email,
        email_normalized=invitation.email_normalized,
        password_hash=password_hash,
        password_changed_at=now,
        roles=[invitation.role],
        age_attested_at=now,
    )
    session.add(user)
    invitation.accepted_user_id = user.id
    await session.flush()
    events.user_changed(session, event_type="user.joined", user=user)
    return user
