"""What the test suites share: where the test servers are, and fresh per-run databases.

The servers come from the environment (`CRM_TEST_POSTGRES_HOST`, `CRM_TEST_NATS_URL`,
`CRM_TEST_REDIS_URL`), defaulting to the ones a developer machine and CI run on
localhost. Test databases carry the `_test` suffix (e2e: `_e2e`) so they never touch
the ones `make run` or a developer uses; `CRM_TEST_DATABASE_TAG` adds to that suffix
so two checkouts testing at once on one server keep apart databases.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import asyncpg

from crm_devstack.processes import (
    Job,
    grpc_health_check,
    module_command,
    run_once,
    spawn,
    wait_ready,
)
from crm_devstack.stack import ServiceSpec, StackConfig, service_env
from crm_kit.db.provision import provision

TEST_POSTGRES_HOST = os.environ.get("CRM_TEST_POSTGRES_HOST", "127.0.0.1:5432")
TEST_NATS_URL = os.environ.get("CRM_TEST_NATS_URL", "nats://127.0.0.1:4222")
TEST_REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_DATABASE_TAG = os.environ.get("CRM_TEST_DATABASE_TAG", "")


def stack_config_for_tests(*, database_suffix: str = "_test", **overrides: object) -> StackConfig:
    settings: dict[str, object] = {
        "postgres_host": TEST_POSTGRES_HOST,
        "nats_url": TEST_NATS_URL,
        "database_suffix": database_suffix + TEST_DATABASE_TAG,
        **overrides,
    }
    return StackConfig(**settings)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def drop_database(config: StackConfig, database: str) -> None:
    url = config.database_url(
        "postgres", user=config.postgres_user, password=config.postgres_password
    )
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


async def fresh_database(
    config: StackConfig, service: ServiceSpec, migrations_dir: Path
) -> tuple[str, str]:
    """Drop and re-provision the service's test database; (runtime URL, migration URL)."""
    database = config.database(service)
    await drop_database(config, database)
    runtime_url = config.database_url(database, user=f"{database}_app", password=None)
    migration_url = config.database_url(
        database, user=config.postgres_user, password=config.postgres_password
    )
    await provision(
        migration_url=migration_url, runtime_url=runtime_url, migrations_dir=migrations_dir
    )
    return runtime_url, migration_url


TENANT_TABLES_SQL = """
SELECT c.relname AS table_name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       (SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname) AS policies
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
JOIN information_schema.columns col
  ON col.table_schema = 'public' AND col.table_name = c.relname AND col.column_name = 'tenant_id'
WHERE c.relkind = 'r'
"""


async def tenant_tables_security(migration_url: str) -> dict[str, tuple[bool, bool, int]]:
    """For every table with a tenant_id column: (RLS enabled, RLS forced, policy count)."""
    conn = await asyncpg.connect(migration_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch(TENANT_TABLES_SQL)
    finally:
        await conn.close()
    return {r["table_name"]: (r["rls"], r["forced"], r["policies"]) for r in rows}


def serve_until_healthy_then_stop(
    config: StackConfig, service: ServiceSpec, *, log_dir: Path, port: int
) -> int:
    """Migrate and start one service as a real process, wait for gRPC health SERVING,
    then SIGTERM it; returns its exit status (0 means it drained and stopped cleanly)."""
    env = {**service_env(config, service), f"{service.env_prefix}GRPC_PORT": str(port)}
    run_once(
        Job(f"{service.name}-migrate", module_command(service.module, "migrate"), env),
        log_dir=log_dir,
    )
    child = spawn(
        Job(service.name, module_command(service.module, "serve"), env),
        log_dir / f"{service.name}.log",
    )
    try:
        wait_ready(child, grpc_health_check(f"{config.host}:{port}"), timeout=60)
        child.process.send_signal(signal.SIGTERM)
        return child.process.wait(30)
    finally:
        if child.process.poll() is None:
            child.process.kill()
