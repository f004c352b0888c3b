"""Telling every verifier to refuse access tokens before they expire.

Access tokens are verified locally everywhere, so ending a session or deactivating
a user must reach the verifiers: `identity.access.revoked` events do, and the
gateway and every service follow them (crm_kit.auth.revocations).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import identity_pb2 as identity_events
from crm_identity import activity
from crm_kit.db.models import utcnow


def revoke_access(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    reason: str,
    session_id: uuid.UUID | None = None,
) -> None:
    """With `session_id`: that session's tokens; without: every token the user holds now."""
    revoked = identity_events.AccessRevoked(
        user_id=str(user_id), session_id=str(session_id) if session_id else "", reason=reason
    )
    revoked.revoked_at.FromDatetime(utcnow())
    activity.record(session, tenant_id=tenant_id, event_type="access.revoked", payload=revoked)
