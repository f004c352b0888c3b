"""Every query on tenants and users."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_identity.models import User

# Set per transaction by login; an RLS policy on users lets such a transaction
# read the rows with exactly that email, across tenants, and nothing else.
LOGIN_EMAIL_GUC = "app.login_email"


class UserRepository:
    async def login_candidates(self, session: AsyncSession, email_normalized: str) -> list[User]:
        """Users with this email in any tenant (the session must carry LOGIN_EMAIL_GUC)."""
        result = await session.scalars(
            select(User)
            .where(User.email_normalized == email_normalized)
            .execution_options(skip_tenant_filter=True)
        )
        return list(result)

    async def get(self, session: AsyncSession, user_id: uuid.UUID) -> User | None:
        return await session.scalar(select(User).where(User.id == user_id))


user_repository = UserRepository()
