"""Turning a bare API key into its principal and a short-lived internal access token.

The key's tenant is unknown until it is found, so the lookup runs in a transaction
that may read exactly the row with that key's hash (an RLS policy keyed on
`app.api_key_hash`); the rest runs in a transaction bound to that tenant.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_identity.api_keys.repository import API_KEY_HASH_GUC, api_key_repository
from crm_identity.api_keys.schemas import ResolvedApiKey
from crm_identity.models import ApiKey
from crm_identity.tokens.access import TokenPolicy, sign_access_token
from crm_identity.tokens.keys import KeyStore
from crm_kit.auth import api_key_format
from crm_kit.auth.tokens import API_KEY_ACTOR
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument, Unauthenticated

# One answer for unknown, revoked and expired keys: a caller learns nothing more.
INVALID_API_KEY = "invalid API key"


def _usable_for(api_key: ApiKey, now: datetime, ttl_seconds: int) -> int:
    """Seconds the key's token may live: never past the key's own expiry; 0 if unusable."""
    if api_key.revoked_at is not None:
        return 0
    if api_key.expires_at is None:
        return ttl_seconds
    return max(0, min(ttl_seconds, int((api_key.expires_at - now).total_seconds())))


def mint_api_key_token(
    keys: KeyStore, policy: TokenPolicy, api_key: ApiKey, *, plan: str, expires_in: int
) -> str:
    """A user access token's shape with the key as subject, no role, its scopes, no session."""
    return sign_access_token(
        keys,
        policy,
        subject=str(api_key.id),
        tenant_id=str(api_key.tenant_id),
        roles=[],
        plan=plan,
        expires_in=expires_in,
        extra={"scopes": list(api_key.scopes), "act": API_KEY_ACTOR},
    )


async def resolve(
    factory: async_sessionmaker[AsyncSession],
    *,
    key: str,
    keys: KeyStore,
    policy: TokenPolicy,
    ttl_seconds: int,
) -> ResolvedApiKey:
    if not api_key_format.is_well_formed(key):
        # Checked before any lookup: a mistyped key costs no database work.
        raise InvalidArgument("the API key is malformed", code="malformed_api_key", field="key")
    key_hash = api_key_format.key_hash(key)
    async with unit_of_work(factory, tenant_id=None, gucs={API_KEY_HASH_GUC: key_hash}) as session:
        tenant = await api_key_repository.tenant_of_hash(session, key_hash)
    if tenant is None:
        raise Unauthenticated(INVALID_API_KEY, code="invalid_api_key")
    async with unit_of_work(factory, tenant_id=tenant) as session:
        api_key, plan = await api_key_repository.lock_by_hash_with_plan(session, key_hash)
        now = utcnow()
        expires_in = _usable_for(api_key, now, ttl_seconds) if api_key else 0
        if api_key is None or expires_in == 0:
            raise Unauthenticated(INVALID_API_KEY, code="invalid_api_key")
        api_key.last_used_at = now
        token = mint_api_key_token(keys, policy, api_key, plan=plan, expires_in=expires_in)
        return ResolvedApiKey(
            api_key_id=api_key.id,
            tenant_id=api_key.tenant_id,
            scopes=tuple(api_key.scopes),
            access_token=token,
            expires_in=expires_in,
        )
