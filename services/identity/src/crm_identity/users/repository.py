"""Every query on users (the tenant's, and login's narrow cross-tenant lookup) and invitations."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_identity.models import Invitation, Tenant, User
from crm_kit.db.session import session_tenant

# Set per transaction by login and password reset: an RLS policy on users lets such a
# transaction read the rows with exactly that email, across tenants, and nothing else.
LOGIN_EMAIL_GUC = "app.login_email"

# Set per transaction by AcceptInvitation: an RLS policy on invitations lets such a
# transaction read the one row with exactly this token hash, across tenants.
INVITATION_TOKEN_GUC = "app.invitation_token_hash"


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

    async def lock(self, session: AsyncSession, user_id: uuid.UUID) -> User | None:
        """The user's current row, locked until the transaction ends."""
        return await session.scalar(
            select(User)
            .where(User.id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def list_all(self, session: AsyncSession) -> list[User]:
        return list(await session.scalars(select(User).order_by(User.created_at, User.id)))

    async def by_email(self, session: AsyncSession, email_normalized: str) -> User | None:
        return await session.scalar(select(User).where(User.email_normalized == email_normalized))

    async def lock_active_holders(self, session: AsyncSession, *, role: str) -> list[uuid.UUID]:
        """Lock the active holders of `role` (in id order, so lockers never deadlock).

        Two transactions that each count the owners before removing one serialize
        here; the second sees the first's change once it commits.
        """
        return list(
            await session.scalars(
                select(User.id)
                .where(User.roles.contains([role]), User.status == "active")
                .order_by(User.id)
                .with_for_update()
            )
        )


class InvitationRepository:
    async def get(self, session: AsyncSession, invitation_id: uuid.UUID) -> Invitation | None:
        return await session.scalar(select(Invitation).where(Invitation.id == invitation_id))

    async def lock(self, session: AsyncSession, invitation_id: uuid.UUID) -> Invitation | None:
        return await session.scalar(
            select(Invitation)
            .where(Invitation.id == invitation_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def list_all(self, session: AsyncSession) -> list[Invitation]:
        return list(
            await session.scalars(
                select(Invitation).order_by(Invitation.created_at.desc(), Invitation.id)
            )
        )

    async def pending_for(
        self, session: AsyncSession, email_normalized: str, *, now: datetime
    ) -> Invitation | None:
        return await session.scalar(
            select(Invitation)
            .where(
                Invitation.email_normalized == email_normalized,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .limit(1)
        )

    async def serialize_email(self, session: AsyncSession, email_normalized: str) -> None:
        """Make concurrent invitations and acceptances of one email in one tenant take turns."""
        key = f"identity.invitation:{session_tenant(session)}:{email_normalized}"
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))

    async def tenant_of_token(self, session: AsyncSession, token_hash: str) -> uuid.UUID | None:
        """The token's tenant (the session must carry INVITATION_TOKEN_GUC)."""
        return await session.scalar(
            select(Invitation.tenant_id)
            .where(Invitation.token_hash == token_hash)
            .execution_options(skip_tenant_filter=True)
        )

    async def claim(
        self, session: AsyncSession, token_hash: str, *, now: datetime
    ) -> Invitation | None:
        """Mark the token's invitation accepted, if it is still open: exactly once."""
        return await session.scalar(
            update(Invitation)
            .where(
                Invitation.token_hash == token_hash,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .values(accepted_at=now)
            .returning(Invitation)
        )


class TenantRepository:
    async def lock(self, session: AsyncSession) -> Tenant | None:
        """The session's own tenant, locked until the transaction ends."""
        return await session.scalar(
            select(Tenant)
            .where(Tenant.id == session_tenant(session))
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def get(self, session: AsyncSession) -> Tenant | None:
        return await session.get(Tenant, session_tenant(session))


user_repository = UserRepository()
invitation_repository = InvitationRepository()
tenant_repository = TenantRepository()
