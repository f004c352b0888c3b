"""The role matrix: which action each role may take, checked by every servicer.

Viewers read. Members read, create, update and export (any record they can see).
Deleting, merging and configuration (custom field definitions, pipelines, visibility
rules) are for admins and owners. API keys act as admins bounded by their scopes (identity lets
only admins and owners create keys); system work (event consumers) may do everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from crm_kit.authorization import has_scope, require_scope
from crm_kit.context import RequestContext, current_context
from crm_kit.errors import PermissionDenied

OWNER, ADMIN, MEMBER, VIEWER = "owner", "admin", "member", "viewer"
FULL_ROLES = frozenset({OWNER, ADMIN})
# The roles visibility rules apply to; admins and owners always see every record.
CONFIGURABLE_ROLES = (MEMBER, VIEWER)
TRUSTED_ACTORS = frozenset({"api_key", "system"})


class Action(StrEnum):
    READ = "read"
    WRITE = "write"  # create and update
    DELETE = "delete"
    MERGE = "merge"
    CONFIGURE = "configure"  # custom field definitions, pipelines, visibility rules
    EXPORT = "export"  # every record of a type at once, as a CSV file


ALLOWED: dict[str, frozenset[Action]] = {
    OWNER: frozenset(Action),
    ADMIN: frozenset(Action),
    MEMBER: frozenset({Action.READ, Action.WRITE, Action.EXPORT}),
    VIEWER: frozenset({Action.READ}),
}


def allows(ctx: RequestContext, action: Action) -> bool:
    """Whether the caller's roles (or its kind: API key, system) allow the action."""
    if ctx.actor_kind in TRUSTED_ACTORS:
        return True
    if ctx.actor_kind != "user":
        return False
    return any(action in ALLOWED.get(role, frozenset()) for role in ctx.roles)


def authorize(action: Action, area: str) -> None:
    """Refuses the call unless the caller's role allows `action` and, for an API key,
    its scopes allow `area` (`contacts:read` for reads, `contacts:write` otherwise)."""
    require_scope(f"{area}:{'read' if action is Action.READ else 'write'}")
    ctx = current_context()
    if not allows(ctx, action):
        raise PermissionDenied(
            f"your role may not {action.value} {area.replace('_', ' ')}",
            code="role_not_allowed",
        )


def authorize_export(object_type: str | None) -> None:
    """Exports are the widest read there is (a whole object type in one file, the main
    way data leaves): admins, owners and members (who get only the records their
    visibility rules let them see, as in lists), and API keys holding `<type>:read`.
    Viewers may not: a read-only seat (often a guest) reads, it does not take copies.
    Without an object type (listing jobs) only the role is checked."""
    if object_type is not None:
        require_scope(f"{object_type}:read")
    if not allows(current_context(), Action.EXPORT):
        raise PermissionDenied("your role may not export records", code="role_not_allowed")


def readable_export_types(object_types: Iterable[str]) -> list[str]:
    """The types among `object_types` whose exports the caller may list (an API key: the
    ones its scopes read)."""
    return [t for t in object_types if has_scope(f"{t}:read")]


def authorize_settings() -> None:
    """Visibility rules are about people's access: a signed-in admin or owner only
    (an API key has no scope for them and is refused)."""
    ctx = current_context()
    if ctx.actor_kind != "user" or not allows(ctx, Action.CONFIGURE):
        raise PermissionDenied(
            "only an admin or owner may read or change visibility rules",
            code="role_not_allowed",
        )
