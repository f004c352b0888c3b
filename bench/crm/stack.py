"""The platform for the CRM benchmark: bench.gateway's stack on its own databases, ports
and Redis database, and its tenants, signed up and given custom fields through the API."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import httpx

from bench.gateway.stack import CRM_CORE, bench_config, signup
from crm_devstack.stack import StackConfig

# `_benchcrm` databases, ports 53051.. and 11000, Redis database 13: never those of
# bench.gateway (offset 2000, database 14), `make run` (0) or the e2e tests (1000).
DATABASE_SUFFIX = "_benchcrm"
PORT_OFFSET = 3000
REDIS_URL = "redis://127.0.0.1:6379/13"
# What a run seeds; emptied first, so runs do not pile up rows in the bench database.
SEEDED_TABLES = ("contact_companies", "contacts", "companies", "custom_field_definitions")
TIERS = ("bronze", "silver", "gold", "platinum")


def crm_bench_config() -> StackConfig:
    return bench_config(
        database_suffix=DATABASE_SUFFIX, port_offset=PORT_OFFSET, redis_url=REDIS_URL
    )


def owner_dsn(config: StackConfig) -> str:
    """crm-core's database as the owner (migration) role, which COPY and ANALYZE need."""
    url = config.database_url(
        config.database(CRM_CORE), user=config.postgres_user, password=config.postgres_password
    )
    return url.replace("postgresql+asyncpg", "postgresql", 1)


async def empty_seeded_tables(config: StackConfig) -> None:
    """Drops what earlier runs seeded (the tenants they signed up stay in identity)."""
    database = config.database(CRM_CORE)
    if not database.endswith(DATABASE_SUFFIX):
        raise RuntimeError(f"refusing to empty {database}: not a benchmark database")
    connection = await asyncpg.connect(owner_dsn(config))
    try:
        await connection.execute(f"TRUNCATE {', '.join(SEEDED_TABLES)} CASCADE")
    finally:
        await connection.close()


@dataclass(frozen=True)
class Tenant:
    name: str
    tenant_id: str
    user_id: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def sign_up_tenant(gateway_url: str, name: str) -> Tenant:
    """A tenant signed up through the gateway, with the contact custom fields the
    benchmark filters and sorts on: a number `score` and a single select `tier`."""
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        body = signup(client, name)
        tenant = Tenant(name, body["tenant_id"], body["user_id"], body["access_token"])
        for field in (
            {"key": "score", "label": "Lead score", "field_type": "number"},
            {
                "key": "tier",
                "label": "Tier",
                "field_type": "single_select",
                "options": [{"value": t, "label": t.title()} for t in TIERS],
            },
        ):
            client.post(
                "/v1/custom-fields/contacts", headers=tenant.headers, json=field
            ).raise_for_status()
    return tenant
