"""Create a service's database and runtime role, migrate it, and grant the role its rights.

The runtime role is neither superuser nor table owner and has NOBYPASSRLS, so the
row-level security policies bind it; tables are also FORCEd, so even the owner is
bound (except a superuser, which only migrations use).
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from crm_kit.db.migrations import upgrade_to_head

log = logging.getLogger(__name__)


def _asyncpg_params(url: str, *, database: str | None = None) -> dict[str, object]:
    parsed = make_url(url)
    params: dict[str, object] = {
        "user": parsed.username,
        "password": parsed.password,
        "database": database or parsed.database,
    }
    host = parsed.query.get("host")
    params["host"] = host if isinstance(host, str) else parsed.host
    if parsed.port:
        params["port"] = parsed.port
    return params


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(migration_url: str) -> None:
    database = make_url(migration_url).database
    assert database, "the migration URL names no database"
    conn = await asyncpg.connect(**_asyncpg_params(migration_url, database="postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            log.info("creating database", extra={"database": database})
            await conn.execute(f"CREATE DATABASE {_quote_ident(database)}")
    finally:
        await conn.close()


async def ensure_runtime_role(migration_url: str, runtime_url: str) -> None:
    runtime = make_url(runtime_url)
    role = runtime.username
    assert role, "the runtime URL names no user"
    conn = await asyncpg.connect(**_asyncpg_params(migration_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        verb = "ALTER" if exists else "CREATE"
        statement = f"{verb} ROLE {_quote_ident(role)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB"
        if runtime.password:
            literal = await conn.fetchval("SELECT quote_literal($1)", runtime.password)
            statement += f" PASSWORD {literal}"
        await conn.execute(statement)
    finally:
        await conn.close()


async def grant_runtime_role(migration_url: str, runtime_url: str) -> None:
    role = _quote_ident(make_url(runtime_url).username or "")
    database = _quote_ident(make_url(migration_url).database or "")
    conn = await asyncpg.connect(**_asyncpg_params(migration_url))
    try:
        # Identifiers are quoted by _quote_ident; GRANT takes no bind parameters.
        for statement in (
            f"GRANT CONNECT ON DATABASE {database} TO {role}",
            f"GRANT USAGE ON SCHEMA public TO {role}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
            f"REVOKE ALL ON TABLE alembic_version FROM {role}",
        ):
            await conn.execute(statement)
    finally:
        await conn.close()


async def provision(*, migration_url: str, runtime_url: str, migrations_dir: Path) -> None:
    """Idempotent, and serialized by an advisory lock, so replicas starting at once
    (several pods' migrate init containers) take turns instead of racing."""
    database = make_url(migration_url).database or ""
    lock = await asyncpg.connect(**_asyncpg_params(migration_url, database="postgres"))
    try:
        await lock.execute("SELECT pg_advisory_lock(hashtext($1))", f"crm-provision:{database}")
        await ensure_database(migration_url)
        await ensure_runtime_role(migration_url, runtime_url)
        await upgrade_to_head(migrations_dir, migration_url)
        await grant_runtime_role(migration_url, runtime_url)
    finally:
        await lock.close()  # ends the session, which releases the lock
