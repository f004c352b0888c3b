"""Who may manage messaging's settings: signed-in owners and admins (as crm-core's
configuration), checked here too, since a service reached directly is no weaker."""

from __future__ import annotations

from crm_kit.context import current_context
from crm_kit.errors import PermissionDenied

MANAGING_ROLES = frozenset({"owner", "admin"})


def require_admin(area: str) -> None:
    """Refuses any caller but a user holding the owner or admin role (API keys too:
    no key scope covers webhooks, whose secrets and delivery logs are an admin's)."""
    ctx = current_context()
    if ctx.actor_kind != "user" or not MANAGING_ROLES.intersection(ctx.roles):
        raise PermissionDenied(f"only an owner or admin may manage {area}", code="role_not_allowed")
