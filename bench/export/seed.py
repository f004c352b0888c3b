"""A tenant's contacts by the million in minutes: PostgreSQL generates them itself
(`generate_series`, names picked from bench.crm's lists by arithmetic on the row
number, so every run seeds the same rows), in batches, as the owner role. Every
thousandth last name is a formula, so the export's neutralizing has work to do."""

from __future__ import annotations

import time
import uuid

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.crm.seed import EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES
from bench.crm.stack import TIERS
from crm_core.custom_fields import service as custom_fields
from crm_core.custom_fields.schemas import CustomFieldCreate, SelectOption
from crm_kit.db.session import unit_of_work

BATCH = 100_000

INSERT_BATCH = """
INSERT INTO contacts (id, tenant_id, first_name, last_name, email, phone, phone_e164,
                      owner_id, created_by, updated_by, version, created_at, updated_at,
                      custom_fields)
SELECT gen_random_uuid(), $1, f, l, lower(f || '.' || l || g || '@' || d), p, '',
       $2, $2, $2, 1, at, at,
       jsonb_build_object(
           'score', g % 1001,
           'tier', ($6::text[])[1 + g % cardinality($6::text[])],
           'nickname', CASE WHEN g % 7 = 0 THEN '@' || f ELSE lower(f) END,
           'renews_at', to_char(timezone('UTC', at + interval '365 days'),
                                'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')
       )
FROM (
    SELECT g,
           ($3::text[])[1 + (g * 7919) % cardinality($3::text[])] AS f,
           CASE WHEN g % 1000 = 0 THEN '=HYPERLINK("http://x.example")'
                ELSE ($4::text[])[1 + (g * 104729) % cardinality($4::text[])] END AS l,
           ($5::text[])[1 + (g * 31) % cardinality($5::text[])] AS d,
           CASE WHEN g % 6 = 0 THEN '' ELSE '+1 415 555 ' || lpad((g % 10000)::text, 4, '0')
           END AS p,
           timestamptz '2024-11-01 00:00:00+00' + g * interval '30 seconds' AS at
    FROM generate_series($7::bigint, $8::bigint) AS g
) AS generated
"""

CUSTOM_FIELDS = (
    CustomFieldCreate(object_type="contacts", key="score", label="Score", field_type="number"),
    CustomFieldCreate(
        object_type="contacts",
        key="tier",
        label="Tier",
        field_type="single_select",
        options=[SelectOption(value=t, label=t.title()) for t in TIERS],
    ),
    CustomFieldCreate(object_type="contacts", key="nickname", label="Nickname", field_type="text"),
    CustomFieldCreate(
        object_type="contacts", key="renews_at", label="Renews at", field_type="datetime"
    ),
)


async def count_contacts(owner_dsn: str, tenant: uuid.UUID) -> int:
    connection = await asyncpg.connect(owner_dsn)
    try:
        async with connection.transaction():
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            # The owner role is a superuser here, which RLS does not bind: name the tenant.
            count = await connection.fetchval(
                "SELECT count(*) FROM contacts WHERE tenant_id = $1", tenant
            )
            return int(count)
    finally:
        await connection.close()


async def seed_tenant(
    factory: async_sessionmaker[AsyncSession], owner_dsn: str, *, tenant: uuid.UUID, rows: int
) -> float:
    """Empties the tenant, defines its custom fields and inserts `rows` contacts; seconds."""
    started = time.perf_counter()
    connection = await asyncpg.connect(owner_dsn)
    try:
        async with connection.transaction():
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            await connection.execute("DELETE FROM contacts WHERE tenant_id = $1", tenant)
            await connection.execute(
                "DELETE FROM custom_field_definitions WHERE tenant_id = $1", tenant
            )
        async with unit_of_work(factory, tenant_id=tenant) as session:
            for definition in CUSTOM_FIELDS:
                await custom_fields.create(session, data=definition)
        owner = uuid.uuid5(tenant, "owner")
        for first in range(1, rows + 1, BATCH):
            last = min(first + BATCH - 1, rows)
            async with connection.transaction():
                await connection.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(tenant)
                )
                await connection.execute(
                    INSERT_BATCH,
                    tenant,
                    owner,
                    list(FIRST_NAMES),
                    list(LAST_NAMES),
                    list(EMAIL_DOMAINS),
                    list(TIERS),
                    first,
                    last,
                )
        await connection.execute("ANALYZE contacts")
    finally:
        await connection.close()
    return time.perf_counter() - started
