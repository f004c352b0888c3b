"""The tenant's users: read the directory, change roles, deactivate, reactivate, unlock.

Use cases run on a tenant-bound session and never commit. `actor_id` is the caller;
their role is read fresh from the database (see roles.py).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from crm_identity.models import User
from crm_identity.revocation import revoke_access
from crm_identity.sessions import service as sessions
from crm_identity.users import events
from crm_identity.users.repository import user_repository
from crm_identity.users.roles import OWNER, Actor, checked_role, load_actor, role_of
from crm_kit.errors import NotFound, PreconditionFailed

ACTIVE = "active"
DEACTIVATED = "deactivated"


def _not_found() -> NotFound:
    return NotFound("user not found", code="user_not_found")


async def _locked_target(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await user_repository.lock(session, user_id)
    if user is None:
        raise _not_found()
    return user


async def _manager_and_owners(
    session: AsyncSession, actor_id: uuid.UUID
) -> tuple[Actor, list[uuid.UUID]]:
    """The active owners, locked before any other row, and the calling manager.

    Locking the owners first, in one order, makes concurrent demotions and
    deactivations of owners take turns without deadlocking; reading the caller after
    the lock means an owner demoted a moment ago no longer acts as one.
    """
    owners = await user_repository.lock_active_holders(session, role=OWNER)
    actor = await load_actor(session, user_id=actor_id)
    actor.require_manager()
    return actor, owners


def _refuse_last_owner(owners: list[uuid.UUID], leaving: uuid.UUID) -> None:
    if not [owner for owner in owners if owner != leaving]:
        raise PreconditionFailed(
            "the organization must keep at least one active owner", code="last_owner"
        )


async def list_users(session: AsyncSession, *, actor_id: uuid.UUID) -> list[User]:
    """Every role may read the directory (to assign work, mention people)."""
    await load_actor(session, user_id=actor_id)
    return await user_repository.list_all(session)


async def get_user(
    session: AsyncSession, *, actor_id: uuid.UUID, user_id: uuid.UUID | None
) -> User:
    """One user of the caller's tenant; `None` is the caller."""
    actor = await load_actor(session, user_id=actor_id)
    user = await user_repository.get(session, user_id or actor.user_id)
    if user is None:
        raise _not_found()
    return user


async def change_role(
    session: AsyncSession, *, actor_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> User:
    """Owners and admins change roles; only an owner grants or removes the owner role."""
    role = checked_role(role)
    actor, owners = await _manager_and_owners(session, actor_id)
    user = await _locked_target(session, user_id)
    previous = role_of(user)
    if previous == role:
        return user
    if OWNER in (previous, role):
        actor.require_owner("grant or remove the owner role")
    if previous == OWNER and user.status == ACTIVE:
        _refuse_last_owner(owners, user.id)
    user.roles = [role]
    await session.flush()
    # Access tokens carry the role: the old ones must stop working at once.
    revoke_access(session, tenant_id=user.tenant_id, user_id=user.id, reason="role_changed")
    events.user_changed(session, event_type="user.role_changed", user=user, previous_role=previous)
    return user


async def deactivate(session: AsyncSession, *, actor_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """Block the user: no login, every session ended, every access token refused."""
    actor, owners = await _manager_and_owners(session, actor_id)
    user = await _locked_target(session, user_id)
    if user.status == DEACTIVATED:
        return user
    if role_of(user) == OWNER:
        actor.require_owner("deactivate an owner")
        _refuse_last_owner(owners, user.id)
    user.status = DEACTIVATED
    await session.flush()
    await sessions.end_all(session, user_id=user.id, reason="deactivated")
    revoke_access(session, tenant_id=user.tenant_id, user_id=user.id, reason="deactivated")
    events.user_changed(session, event_type="user.deactivated", user=user)
    return user


async def reactivate(session: AsyncSession, *, actor_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """Let a deactivated user log in again (with their old role and password)."""
    actor = await load_actor(session, user_id=actor_id)
    actor.require_manager()
    user = await _locked_target(session, user_id)
    if user.status == ACTIVE:
        return user
    if role_of(user) == OWNER:
        actor.require_owner("reactivate an owner")
    user.status = ACTIVE
    await session.flush()
    events.user_changed(session, event_type="user.reactivated", user=user)
    return user


async def unlock(session: AsyncSession, *, actor_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """Lift a lockout now and forget the failures that led to it."""
    actor = await load_actor(session, user_id=actor_id)
    actor.require_manager()
    user = await _locked_target(session, user_id)
    user.locked_until = None
    user.failed_logins = 0
    user.failure_window_started_at = None
    user.lockouts = 0
    await session.flush()
    events.user_changed(session, event_type="user.unlocked", user=user)
    return user
