"""Who may do what to a tenant's people.

Every user holds exactly one role. Everyone may read the directory of users; only
owners and admins change it; only an owner grants or takes away the owner role.
The caller's role is read from the database, not from the access token, so a
demotion takes effect at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from crm_identity.models import User
from crm_identity.users.repository import user_repository
from crm_kit.errors import InvalidArgument, PermissionDenied, Unauthenticated

OWNER = "owner"
ADMIN = "admin"
MEMBER = "member"
VIEWER = "viewer"
ROLES = (OWNER, ADMIN, MEMBER, VIEWER)
MANAGERS = frozenset({OWNER, ADMIN})


def role_of(user: User) -> str:
    return user.roles[0] if user.roles else ""


def checked_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgument(
            f"role must be one of {', '.join(ROLES)}", code="invalid_role", field="role"
        )
    return role


@dataclass(frozen=True)
class Actor:
    """The active user making the call, with the role they hold right now."""

    user_id: uuid.UUID
    role: str

    @property
    def is_owner(self) -> bool:
        return self.role == OWNER

    def require_manager(self) -> None:
        if self.role not in MANAGERS:
            raise PermissionDenied(
                "only owners and admins may manage users", code="manager_role_required"
            )

    def require_owner(self, what: str) -> None:
        if not self.is_owner:
            raise PermissionDenied(f"only an owner may {what}", code="owner_role_required")


async def load_actor(session: AsyncSession, *, user_id: uuid.UUID) -> Actor:
    """The caller as the database knows them; a deactivated or vanished caller is refused."""
    user = await user_repository.get(session, user_id)
    if user is None or user.status != "active":
        raise Unauthenticated("this account is not active", code="account_inactive")
    return Actor(user_id=user.id, role=role_of(user))
