"""Entry points that start from a bare refresh token, before its tenant is known.

Each first finds the token's tenant in a transaction that may read exactly that
token's row (an RLS policy keyed on `app.refresh_token_hash`), then does its work in
a transaction bound to that tenant.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_identity.models import RefreshToken
from crm_identity.sessions import service as sessions
from crm_identity.tokens.access import TokenPolicy
from crm_identity.tokens.keys import KeyStore
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Unauthenticated

TOKEN_HASH_GUC = "app.refresh_token_hash"
INVALID_REFRESH_TOKEN = "invalid refresh token"


async def _tenant_of(factory: async_sessionmaker[AsyncSession], token: str) -> uuid.UUID | None:
    token_hash = sessions.hash_token(token)
    async with unit_of_work(factory, tenant_id=None, gucs={TOKEN_HASH_GUC: token_hash}) as session:
        return await session.scalar(
            select(RefreshToken.tenant_id)
            .where(RefreshToken.token_hash == token_hash)
            .execution_options(skip_tenant_filter=True)
        )


async def refresh(
    factory: async_sessionmaker[AsyncSession], *, token: str, keys: KeyStore, policy: TokenPolicy
) -> sessions.TokenPair:
    tenant = await _tenant_of(factory, token)
    if tenant is None:
        raise Unauthenticated(INVALID_REFRESH_TOKEN, code="invalid_refresh_token")
    async with unit_of_work(factory, tenant_id=tenant) as session:
        pair = await sessions.rotate(session, token=token, keys=keys, policy=policy)
    if pair is None:
        raise Unauthenticated(INVALID_REFRESH_TOKEN, code="invalid_refresh_token")
    return pair


async def logout(factory: async_sessionmaker[AsyncSession], *, token: str) -> None:
    """End the token's session. An unknown token is not an error: logout is idempotent."""
    tenant = await _tenant_of(factory, token)
    if tenant is None:
        return
    async with unit_of_work(factory, tenant_id=tenant) as session:
        session_id = await sessions.session_of_token(session, token)
        if session_id is not None:
            await sessions.end(session, session_id=session_id, reason="logout")
