"""Driver reads: one read-only transaction bound to the tenant, opened in one round trip."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_kit.db.driver_reads import begin_for_tenant, tenant_read
from crm_kit.errors import NotFound

pytestmark = pytest.mark.integration


class TestTenantRead:
    async def test_the_transaction_is_read_only_and_bound_to_the_tenant(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        async with tenant_read(factory, tenant_id=tenant) as connection:
            assert connection.is_in_transaction()
            assert await connection.fetchval("SHOW transaction_read_only") == "on"
            assert await connection.fetchval("SELECT current_setting('app.tenant_id')") == str(
                tenant
            )
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                await connection.execute("CREATE TEMPORARY TABLE written (id int)")

    async def test_the_connection_goes_back_without_its_transaction_or_tenant(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        async with tenant_read(factory, tenant_id=tenant) as connection:
            pass
        assert not connection.is_in_transaction()
        # set_config(..., true) was transaction-local: nothing is left for the next user.
        assert await connection.fetchval("SELECT current_setting('app.tenant_id', true)") in (
            None,
            "",
        )

    async def test_an_error_inside_rolls_back_and_propagates(
        self, factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
    ) -> None:
        with pytest.raises(NotFound):
            async with tenant_read(factory, tenant_id=tenant) as connection:
                raise NotFound("nothing here")
        assert not connection.is_in_transaction()
        async with tenant_read(factory, tenant_id=tenant) as again:
            assert await again.fetchval("SELECT 1") == 1


class TestBeginForTenant:
    def test_only_a_uuid_goes_into_the_statement(self) -> None:
        with pytest.raises(TypeError):
            begin_for_tenant("'; DROP TABLE contacts; --")  # type: ignore[arg-type]
