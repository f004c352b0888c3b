"""Each tenant's billing plan, as billing last announced it.

Identity only stores the plan and puts it in every access token (the `plan` claim),
so the gateway picks a caller's rate limits without a lookup. A change reaches a
caller at their next token: within the access-token TTL (15 minutes by default).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_identity.models import Tenant
from crm_kit.errors import InvalidArgument

# What a tenant no plan was ever set for is on, and what "" means in events and tokens.
DEFAULT_PLAN = ""
PLAN_MAX_LENGTH = 50


async def apply_change(
    session: AsyncSession, *, tenant_id: uuid.UUID, plan: str, changed_at: datetime
) -> bool:
    """Set the tenant's plan unless a change at least as recent is already applied;
    True if it was set. One conditional UPDATE, so concurrent or redelivered changes
    settle on the newest whatever order they arrive in."""
    if len(plan) > PLAN_MAX_LENGTH:
        raise InvalidArgument(
            f"a plan name has at most {PLAN_MAX_LENGTH} characters", code="invalid_plan"
        )
    updated = await session.execute(
        update(Tenant)
        .where(
            Tenant.id == tenant_id,
            or_(Tenant.plan_changed_at.is_(None), Tenant.plan_changed_at < changed_at),
        )
        .values(plan=plan, plan_changed_at=changed_at)
        .returning(Tenant.id)
        .execution_options(synchronize_session=False)
    )
    return updated.first() is not None


async def plan_of(session: AsyncSession, *, tenant_id: uuid.UUID) -> str:
    """The tenant's plan; from the session's identity map when the tenant is loaded."""
    tenant = await session.get(Tenant, tenant_id)
    return tenant.plan if tenant is not None else DEFAULT_PLAN
