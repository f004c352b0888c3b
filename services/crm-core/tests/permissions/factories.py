"""Callers with roles, and visibility rules, for permission tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.permissions import rules
from crm_kit.context import RequestContext, bind_context
from crm_kit.db.session import unit_of_work
from crm_kit.errors import PermissionDenied


@contextmanager
def calling_as(
    tenant: uuid.UUID,
    user: uuid.UUID,
    *roles: str,
    kind: str = "user",
    scopes: tuple[str, ...] = (),
) -> Iterator[RequestContext]:
    """Binds a request context as the edge does for a verified token."""
    ctx = RequestContext(
        tenant_id=tenant, user_id=user, roles=roles, actor_kind=kind, scopes=scopes
    )
    with bind_context(ctx):
        yield ctx


async def denied_code(call: Awaitable[Any]) -> str:
    """The code of the PermissionDenied the call must raise."""
    with pytest.raises(PermissionDenied) as refused:
        await call
    return refused.value.code


async def set_visibility(
    factory: async_sessionmaker[AsyncSession],
    *,
    tenant: uuid.UUID,
    visibility: str,
    role: str = "member",
    object_types: tuple[str, ...] = ("contacts", "companies", "leads", "deals"),
) -> None:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        await rules.put_rules(
            session,
            rules=[rules.VisibilityRule(role, t, visibility) for t in object_types],
        )
