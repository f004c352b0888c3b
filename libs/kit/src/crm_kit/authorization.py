"""What a caller may do, checked in every service, not only at the gateway.

API keys carry scopes (`contacts:read`, `contacts:write`...); a service called
directly with a key's internal token must refuse what the key was not granted.
Users are not limited by scopes (their roles apply).
"""

from __future__ import annotations

from crm_kit.auth import api_key_format
from crm_kit.auth.tokens import API_KEY_ACTOR
from crm_kit.context import current_context
from crm_kit.errors import PermissionDenied


def has_scope(scope: str) -> bool:
    """Whether the caller holds `scope` (users always do: their roles apply instead)."""
    ctx = current_context()
    return ctx.actor_kind != API_KEY_ACTOR or api_key_format.grants(ctx.scopes, scope)


def require_scope(scope: str) -> None:
    if not has_scope(scope):
        raise PermissionDenied(f"this API key lacks the {scope} scope", code="insufficient_scope")
