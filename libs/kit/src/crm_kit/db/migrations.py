"""Alembic, one history per service, driven from code so no alembic.ini is needed.

A service's `migrations/env.py` calls `run_env(Base.metadata)`; `upgrade_to_head`
runs it. `enable_tenant_rls` is what each tenant-owned table's migration calls.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

TENANT_POLICY = "tenant_isolation"
CURRENT_TENANT_SQL = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade_to_head(migrations_dir: Path, url: str) -> None:
    config = alembic_config(migrations_dir, url)
    # Alembic's command API is synchronous and env.py starts its own event loop.
    await asyncio.to_thread(command.upgrade, config, "head")


def run_env(metadata: MetaData) -> None:
    """Body of every service's migrations/env.py (online mode only)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    asyncio.run(run())


def enable_tenant_rls(table: str) -> None:
    """Row-level security on a tenant-owned table, forced so the owner is bound too."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY {TENANT_POLICY} ON {table} "
        f"USING (tenant_id = {CURRENT_TENANT_SQL}) "
        f"WITH CHECK (tenant_id = {CURRENT_TENANT_SQL})"
    )
