"""Engines and units of work bound to one tenant.

Two walls keep tenants apart: the ORM adds `tenant_id = :tenant` to every query on a
`TenantOwned` table, and PostgreSQL row-level security filters on `app.tenant_id`,
which `unit_of_work` sets at the start of every transaction. A query that forgets its
tenant therefore returns nothing instead of another tenant's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria

from crm_kit.context import current_context
from crm_kit.db.models import TenantOwned

TENANT_KEY = "tenant_id"
GUCS_KEY = "gucs"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    # hide_parameters: a failed statement's error text must never carry its values
    # (password hashes, emails) into logs or to a caller.
    return create_async_engine(url, pool_size=pool_size, hide_parameters=True)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


@asynccontextmanager
async def unit_of_work(
    factory: async_sessionmaker[AsyncSession],
    *,
    tenant_id: uuid.UUID | None,
    gucs: Mapping[str, str] | None = None,
) -> AsyncIterator[AsyncSession]:
    """One transaction, committed when the block ends cleanly and rolled back otherwise.

    With `tenant_id=None` the session sees no tenant-owned rows at all (RLS), which
    is what system work (outbox relay, key store) wants.
    """
    async with factory() as session:
        session.info[TENANT_KEY] = tenant_id
        session.info[GUCS_KEY] = dict(gucs or {})
        async with session.begin():
            yield session


def caller_unit_of_work(
    factory: async_sessionmaker[AsyncSession],
) -> AbstractAsyncContextManager[AsyncSession]:
    """A unit of work bound to the calling request's tenant (refused without one)."""
    return unit_of_work(factory, tenant_id=current_context().require_tenant())


def session_tenant(session: AsyncSession | Session) -> uuid.UUID:
    tenant = session.info.get(TENANT_KEY)
    if tenant is None:
        raise RuntimeError("this session is not bound to a tenant")
    return tenant  # type: ignore[no-any-return]


@event.listens_for(Session, "after_begin")
def _set_transaction_gucs(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    tenant = session.info.get(TENANT_KEY)
    settings: dict[str, str] = {"app.tenant_id": str(tenant) if tenant else ""}
    settings.update(session.info.get(GUCS_KEY, {}))
    for name, value in settings.items():
        # set_config(..., true) is transaction-local: a pooled connection never
        # carries one tenant's setting into the next transaction.
        connection.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value}
        )


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("skip_tenant_filter", False):
        return
    tenant = state.session.info.get(TENANT_KEY)
    criteria: Any = (
        (lambda cls: cls.tenant_id == tenant)
        if tenant is not None
        else (lambda cls: cls.tenant_id.is_(None))
    )
    state.statement = state.statement.options(
        with_loader_criteria(TenantOwned, criteria, include_aliases=True)
    )


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, flush_context: object, instances: object) -> None:
    """New tenant-owned rows take the session's tenant; a different one is a bug."""
    tenant = session.info.get(TENANT_KEY)
    for obj in session.new:
        if not isinstance(obj, TenantOwned):
            continue
        if tenant is None:
            raise RuntimeError(f"{type(obj).__name__} written outside a tenant-bound session")
        if obj.tenant_id is None:
            obj.tenant_id = tenant
        elif obj.tenant_id != tenant:
            raise RuntimeError(f"{type(obj).__name__} written for another tenant")
