"""Every query on API keys."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_identity.models import ApiKey, Tenant

# Set per transaction by ResolveApiKey: an RLS policy on api_keys lets such a
# transaction read the one row with exactly this key hash, across tenants.
API_KEY_HASH_GUC = "app.api_key_hash"


class ApiKeyRepository:
    async def tenant_of_hash(self, session: AsyncSession, key_hash: str) -> uuid.UUID | None:
        """The tenant owning the key (the session must carry API_KEY_HASH_GUC)."""
        return await session.scalar(
            select(ApiKey.tenant_id)
            .where(ApiKey.key_hash == key_hash)
            .execution_options(skip_tenant_filter=True)
        )

    async def lock_by_hash_with_plan(
        self, session: AsyncSession, key_hash: str
    ) -> tuple[ApiKey | None, str]:
        """The key, locked, and its tenant's billing plan, in one query."""
        row = (
            await session.execute(
                select(ApiKey, Tenant.plan)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .where(ApiKey.key_hash == key_hash)
                .with_for_update(of=ApiKey)
            )
        ).first()
        return (row[0], row[1]) if row is not None else (None, "")

    async def lock(self, session: AsyncSession, api_key_id: uuid.UUID) -> ApiKey | None:
        return await session.scalar(
            select(ApiKey)
            .where(ApiKey.id == api_key_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def list_all(self, session: AsyncSession) -> list[ApiKey]:
        """The tenant's keys, newest first, revoked ones included (they are its record)."""
        return list(
            await session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id))
        )


api_key_repository = ApiKeyRepository()
