"""The GetContact driver read stays one indexed statement with the visibility condition."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.contacts.repository import _READ_CONTACT
from crm_core.permissions.visibility import Audience, driver_values
from crm_kit.db.driver_reads import tenant_read

from ..contacts.factories import create_contact
from .factories import set_visibility

pytestmark = pytest.mark.integration


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _seed_and_analyze(owner_url: str, tenant: uuid.UUID) -> None:
    """Enough of the tenant's contacts, with statistics, that the key is the cheapest way."""
    conn = await asyncpg.connect(owner_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            await conn.execute(
                "INSERT INTO contacts (id, tenant_id, first_name, last_name, email, phone,"
                " version) SELECT gen_random_uuid(), $1, 'Seed', 'S' || n, '', '', 1"
                " FROM generate_series(1, 3000) AS n",
                tenant,
            )
        await conn.execute("ANALYZE contacts")
    finally:
        await conn.close()


async def test_the_contact_and_the_rules_are_read_through_their_keys(
    database_urls: tuple[str, str], factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID
) -> None:
    owner = uuid.uuid4()
    contact = await create_contact(factory, tenant=tenant, owner_id=owner)
    await _seed_and_analyze(database_urls[1], tenant)
    await set_visibility(factory, tenant=tenant, visibility="own")
    values = {
        "contact_id": contact.id,
        "tenant_id": tenant,
        **driver_values(Audience(owner, ("member",), sees_all=False)),
    }
    async with tenant_read(factory, tenant_id=tenant) as connection:
        found = await _READ_CONTACT.fetchrow(connection, **values)
        raw = await connection.fetchval(
            "EXPLAIN (FORMAT JSON) " + _READ_CONTACT.sql,
            *(values[name] for name in _READ_CONTACT.params),
        )
    indexes = {
        node.get("Relation Name"): node.get("Index Name")
        for node in _nodes((raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"])
        if node.get("Relation Name") in ("contacts", "record_visibility_rules")
    }
    assert found is not None
    assert found["id"] == contact.id
    assert indexes == {
        "contacts": "pk_contacts",
        "record_visibility_rules": "pk_record_visibility_rules",
    }
