"""The caller's organization: read it; its owner cancels or reactivates it.

pending_deletion belongs to the privacy service (deletion 30 days after
cancellation), so no user may set it or leave it here.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from crm_identity.models import Tenant
from crm_identity.users import events
from crm_identity.users.repository import tenant_repository
from crm_identity.users.roles import load_actor
from crm_kit.db.models import utcnow
from crm_kit.errors import InvalidArgument, NotFound, PermissionDenied

ACTIVE, CANCELLED, PENDING_DELETION = "active", "cancelled", "pending_deletion"
STATUSES = (ACTIVE, CANCELLED, PENDING_DELETION)
# What an owner may do: cancel, and take a cancellation back.
OWNER_TRANSITIONS = frozenset({(ACTIVE, CANCELLED), (CANCELLED, ACTIVE)})


def _not_found() -> NotFound:
    return NotFound("organization not found", code="tenant_not_found")


async def get_tenant(session: AsyncSession, *, actor_id: uuid.UUID) -> Tenant:
    await load_actor(session, user_id=actor_id)
    tenant = await tenant_repository.get(session)
    if tenant is None:
        raise _not_found()
    return tenant


async def set_status(session: AsyncSession, *, actor_id: uuid.UUID, status: str) -> Tenant:
    """active -> cancelled and back, by an owner; setting the current status is a no-op."""
    if status not in STATUSES:
        raise InvalidArgument(
            f"status must be one of {', '.join(STATUSES)}", code="invalid_status", field="status"
        )
    actor = await load_actor(session, user_id=actor_id)
    actor.require_owner("change the organization's status")
    tenant = await tenant_repository.lock(session)
    if tenant is None:
        raise _not_found()
    previous = tenant.status
    if previous == status:
        return tenant
    if (previous, status) not in OWNER_TRANSITIONS:
        raise PermissionDenied(
            f"an organization cannot go from {previous} to {status} here: "
            "deletion is scheduled by the privacy service",
            code="status_change_not_allowed",
        )
    now = utcnow()
    tenant.status = status
    tenant.status_changed_at = now
    await session.flush()
    events.tenant_status_changed(session, tenant=tenant, previous_status=previous, changed_at=now)
    return tenant
