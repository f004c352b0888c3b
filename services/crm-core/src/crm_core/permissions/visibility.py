"""Own-record visibility, applied to every query of the records engine.

A caller whose every configurable role has `own` for an object type (contacts,
companies, leads, deals, and tasks) sees only that type's records it owns (tasks: it
owns or is assigned); any other record answers as absent (404), like another
tenant's. The condition is SQL (the rules are read by the query itself, an indexed
lookup PostgreSQL runs once per statement), so nothing is cached and a rule change
applies to the next statement. The edge says who is asking (`caller_session`); a
session without an audience (system work, tests of the services) sees every record.
Integrity checks that must see the whole tenant (unique values, references to a
deleted record) opt out with the execution option `all_records=True`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    String,
    bindparam,
    event,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql.elements import ColumnElement

from crm_core.models import RecordVisibilityRule, Task
from crm_core.models.permission import VISIBILITY_OWN
from crm_core.permissions.roles import CONFIGURABLE_ROLES, FULL_ROLES, TRUSTED_ACTORS
from crm_core.records.registry import OBJECT_TYPES, ObjectSpec
from crm_kit.context import RequestContext, current_context
from crm_kit.db.session import TENANT_KEY, unit_of_work

AUDIENCE_KEY = "record_audience"
ALL_RECORDS_OPTION = "all_records"
# Execution options of a statement that must see the whole tenant (integrity checks).
EVERY_RECORD = {ALL_RECORDS_OPTION: True}


@dataclass(frozen=True)
class Audience:
    """Who is reading: everything (`sees_all`), or its own records where its roles say so."""

    user_id: uuid.UUID | None
    roles: tuple[str, ...]
    sees_all: bool


EVERYONE = Audience(None, (), sees_all=True)


def audience_of(ctx: RequestContext) -> Audience:
    """Admins, owners, API keys and system work see all; others as their rules say."""
    sees_all = ctx.actor_kind in TRUSTED_ACTORS or bool(FULL_ROLES & set(ctx.roles))
    roles = tuple(sorted(r for r in set(ctx.roles) if r in CONFIGURABLE_ROLES))
    return Audience(ctx.user_id, roles, sees_all)


def _own_rules(tenant: Any, object_type: str, roles: Any, *, inline: bool = False) -> Any:
    """How many of `roles` have `own` on the object type (a scalar subquery). `inline`
    writes the constants into the SQL, for statements compiled once."""
    rule = RecordVisibilityRule
    kind: Any = literal_column(f"'{object_type}'") if inline else object_type
    own: Any = literal_column(f"'{VISIBILITY_OWN}'") if inline else VISIBILITY_OWN
    return (
        select(func.count())
        .where(
            rule.tenant_id == tenant,
            rule.object_type == kind,
            rule.visibility == own,
            rule.role == func.any(roles),
        )
        .scalar_subquery()
    )


@dataclass(frozen=True)
class VisibleType:
    """A type whose rows visibility rules limit, and the columns that make a row one's own."""

    name: str
    model: Any
    mine: tuple[str, ...] = ("owner_id",)

    def own(self, user: Any) -> ColumnElement[bool]:
        return or_(*(getattr(self.model, column) == user for column in self.mine))


# The record types, and tasks: a task is one's own as its owner or its assignee.
VISIBLE_TYPES: dict[str, VisibleType] = {
    **{spec.name: VisibleType(spec.name, spec.model) for spec in OBJECT_TYPES.values()},
    "tasks": VisibleType("tasks", Task, ("owner_id", "assignee_id")),
}


def visible(kind: VisibleType, audience: Audience, tenant: uuid.UUID) -> ColumnElement[bool]:
    """The rows of `kind` the audience may see: its own, or all when a role has `all`."""
    own = kind.own(audience.user_id) if audience.user_id else false()
    if not audience.roles:
        return own
    roles = bindparam(None, list(audience.roles), type_=ARRAY(String), unique=True)
    return or_(own, _own_rules(tenant, kind.name, roles) < len(audience.roles))


def driver_visible(spec: ObjectSpec) -> ColumnElement[bool]:
    """`visible` with bind parameters, for statements compiled once (driver reads);
    its values come from `driver_values`."""
    roles = bindparam("visibility_roles", type_=ARRAY(String))
    return or_(
        bindparam("visibility_sees_all", type_=Boolean),
        VISIBLE_TYPES[spec.name].own(bindparam("visibility_user_id")),
        _own_rules(bindparam("tenant_id"), spec.name, roles, inline=True) < func.cardinality(roles),
    )


def driver_values(audience: Audience) -> dict[str, Any]:
    return {
        "visibility_sees_all": audience.sees_all,
        "visibility_user_id": audience.user_id,
        "visibility_roles": list(audience.roles),
    }


@event.listens_for(Session, "do_orm_execute")
def _limit_to_visible(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    audience: Audience | None = state.session.info.get(AUDIENCE_KEY)
    if audience is None or audience.sees_all:
        return
    if state.execution_options.get(ALL_RECORDS_OPTION, False):
        return
    state.statement = state.statement.options(
        *visibility_criteria(audience, state.session.info[TENANT_KEY])
    )


def visibility_criteria(audience: Audience, tenant: uuid.UUID) -> list[Any]:
    """The statement options that limit every record type (aliases and subqueries
    included) to what the audience may see; also for statements compiled outside a
    session (exports)."""
    return [
        with_loader_criteria(kind.model, visible(kind, audience, tenant), include_aliases=True)
        for kind in VISIBLE_TYPES.values()
    ]


@asynccontextmanager
async def caller_session(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work for the calling request: its tenant, and only the records it may see."""
    ctx = current_context()
    async with unit_of_work(factory, tenant_id=ctx.require_tenant()) as session:
        session.info[AUDIENCE_KEY] = audience_of(ctx)
        yield session
