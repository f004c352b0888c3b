"""API-key use cases on a tenant-bound session: create, list, revoke.

Only owners and admins (by the roles of their access token) manage keys; an API key
itself has no role, so it can never mint or revoke keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import identity_pb2 as identity_events
from crm_identity import activity
from crm_identity.api_keys.repository import api_key_repository
from crm_identity.api_keys.schemas import ApiKeyCreate, CreatedApiKey
from crm_identity.models import ApiKey
from crm_identity.revocation import revoke_access
from crm_identity.users.roles import load_actor
from crm_kit.auth import api_key_format
from crm_kit.auth.tokens import USER_ACTOR
from crm_kit.context import current_context
from crm_kit.db.models import new_id, utcnow
from crm_kit.errors import InvalidArgument, NotFound, PermissionDenied
from crm_kit.validation import clean_text

MANAGER_ROLES = frozenset({"owner", "admin"})
NAME_MAX_LENGTH = 200


async def require_manager(session: AsyncSession) -> uuid.UUID:
    """The calling owner or admin, by the role the database holds now (not the token's,
    which a demotion or deactivation has not reached yet); an API key is refused."""
    ctx = current_context()
    if ctx.actor_kind != USER_ACTOR or ctx.user_id is None:
        raise PermissionDenied(
            "only owners and admins may manage API keys", code="manager_role_required"
        )
    actor = await load_actor(session, user_id=ctx.user_id)
    if actor.role not in MANAGER_ROLES:
        raise PermissionDenied(
            "only owners and admins may manage API keys", code="manager_role_required"
        )
    return actor.user_id


def checked_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    unique = sorted(set(scopes))
    if not unique:
        raise InvalidArgument(
            "scopes must name at least one scope", code="scopes_required", field="scopes"
        )
    unknown = [s for s in unique if s not in api_key_format.SCOPES]
    if unknown:
        raise InvalidArgument(
            f"unknown scope {unknown[0]!r}; allowed: {', '.join(api_key_format.SCOPES)}",
            code="invalid_scope",
            field="scopes",
        )
    return tuple(unique)


def _record(session: AsyncSession, api_key: ApiKey, verb: str) -> None:
    changed = identity_events.ApiKeyChanged(
        api_key_id=str(api_key.id),
        name=api_key.name,
        scopes=api_key.scopes,
        key_hash=api_key.key_hash,
    )
    activity.record(
        session, tenant_id=api_key.tenant_id, event_type=f"api_key.{verb}", payload=changed
    )


async def create(session: AsyncSession, *, data: ApiKeyCreate) -> CreatedApiKey:
    """A new key; its plaintext is in the result and nowhere else, ever."""
    creator = await require_manager(session)
    name = clean_text(data.name, field="name", max_length=NAME_MAX_LENGTH, required=True)
    scopes = checked_scopes(data.scopes)
    if data.expires_at is not None and data.expires_at <= utcnow():
        raise InvalidArgument(
            "expires_at must be in the future", code="expires_at_in_past", field="expires_at"
        )
    key = api_key_format.generate()
    api_key = ApiKey(
        id=new_id(),
        name=name,
        key_hash=api_key_format.key_hash(key),
        display_prefix=api_key_format.display_prefix(key),
        scopes=list(scopes),
        expires_at=data.expires_at,
        created_by=creator,
        created_at=utcnow(),
    )
    session.add(api_key)
    await session.flush()
    _record(session, api_key, "created")
    return CreatedApiKey(api_key=api_key, key=key)


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    await require_manager(session)
    return await api_key_repository.list_all(session)


async def revoke(session: AsyncSession, *, api_key_id: uuid.UUID) -> ApiKey:
    """Revoke for good (idempotent). Gateways drop the key at once and every verifier
    refuses the internal tokens already minted for it."""
    await require_manager(session)
    api_key = await api_key_repository.lock(session, api_key_id)
    if api_key is None:
        raise NotFound("API key not found", code="api_key_not_found")
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        await session.flush()
        _record(session, api_key, "revoked")
        revoke_access(
            session, tenant_id=api_key.tenant_id, user_id=api_key.id, reason="api_key_revoked"
        )
    return api_key
