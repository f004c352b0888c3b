"""Visibility rules: per configurable role and object type, `all` (default) or `own`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import RecordVisibilityRule
from crm_core.models.permission import VISIBILITY_ALL, VISIBILITY_OWN
from crm_core.permissions.roles import CONFIGURABLE_ROLES
from crm_core.permissions.visibility import VISIBLE_TYPES
from crm_kit.context import current_context
from crm_kit.db.models import utcnow
from crm_kit.db.session import session_tenant
from crm_kit.errors import InvalidArgument

VISIBILITIES = (VISIBILITY_ALL, VISIBILITY_OWN)


@dataclass(frozen=True)
class VisibilityRule:
    role: str
    object_type: str
    visibility: str


async def list_rules(session: AsyncSession) -> list[VisibilityRule]:
    """Every configurable role and object type with its visibility (absent: `all`)."""
    stored = {
        (r.role, r.object_type): r.visibility
        for r in await session.scalars(select(RecordVisibilityRule))
    }
    return [
        VisibilityRule(role, object_type, stored.get((role, object_type), VISIBILITY_ALL))
        for role in CONFIGURABLE_ROLES
        for object_type in VISIBLE_TYPES
    ]


def _checked(rules: Sequence[VisibilityRule]) -> list[VisibilityRule]:
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if rule.role not in CONFIGURABLE_ROLES:
            raise InvalidArgument(
                f"{where}.role must be one of {', '.join(CONFIGURABLE_ROLES)}; admins and "
                "owners always see every record",
                code="role_not_configurable",
                field=f"{where}.role",
            )
        if rule.object_type not in VISIBLE_TYPES:
            raise InvalidArgument(
                f"{where}.object_type must be one of {', '.join(VISIBLE_TYPES)}",
                code="unknown_object_type",
                field=f"{where}.object_type",
            )
        if rule.visibility not in VISIBILITIES:
            raise InvalidArgument(
                f"{where}.visibility must be all or own",
                code="invalid_visibility",
                field=f"{where}.visibility",
            )
    return list(rules)


async def put_rules(
    session: AsyncSession, *, rules: Sequence[VisibilityRule]
) -> list[VisibilityRule]:
    """Sets the given (role, object type) pairs; pairs not given keep their setting."""
    tenant = session_tenant(session)
    actor = current_context().user_id
    for rule in _checked(rules):
        values = {"visibility": rule.visibility, "updated_at": utcnow(), "updated_by": actor}
        statement = insert(RecordVisibilityRule).values(
            tenant_id=tenant, role=rule.role, object_type=rule.object_type, **values
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "role", "object_type"], set_=values
            )
        )
    return await list_rules(session)
