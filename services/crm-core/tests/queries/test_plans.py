"""Searches as the RLS-bound runtime role reach their indexes (plans, not timings).

Row-level security lets a query's own condition run ahead of the policy, and so be an
index condition, only when its function is LEAKPROOF (migration 0002). Each test runs
the statement crm-core's search engine sends, through `EXPLAIN (FORMAT JSON)`, in the
runtime role's transaction with the tenant set; sequential scans are disabled so the
small test table does not make a scan cheapest (it only raises their cost: a plan that
cannot use an index still scans).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from crm_core.contacts import service as contacts
from crm_core.models import Contact
from crm_core.queries.filters import Filter
from crm_core.queries.search import SearchParams
from crm_core.queries.sorting import Sort
from crm_kit.db.session import unit_of_work

from ..contacts.factories import create_contact
from ..custom_fields.factories import define_field

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


def scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from scans(child)


async def search_plan(factory: Factory, tenant: uuid.UUID, params: SearchParams) -> list[dict]:
    """The plan nodes of the page statement a search sends, explained as it ran."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    async with unit_of_work(factory, tenant_id=tenant) as session:
        role = (
            await session.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
        assert tuple(role) == (False, False), "must run as the RLS-bound runtime role"
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        connection = await session.connection()
        sync_engine = connection.engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", record)
        try:
            await contacts.search_page(session, params=params)
        finally:
            event.remove(sync_engine, "before_cursor_execute", record)
        statement, parameters = next(s for s in reversed(sent) if "FROM contacts" in s[0])
        explained = await connection.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) " + statement, parameters
        )
        document = explained.scalar_one()
    return list(scans(document[0]["Plan"]))


def outline(nodes: list[dict[str, Any]]) -> list[str]:
    """The plan in brief, for failure messages."""
    keys = ("Index Name", "Index Cond", "Recheck Cond", "Filter")
    return [" ".join([n["Node Type"], *(f"{k}={n[k]}" for k in keys if k in n)]) for n in nodes]


def index_names(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["Index Name"] for n in nodes if "Index Name" in n}


CROWD = 2000


@pytest.fixture
async def named_contacts(factory: Factory, tenant: uuid.UUID) -> uuid.UUID:
    """A tenant with six named contacts, three of them gold, three silver."""
    await define_field(
        factory, tenant=tenant, key="tier", field_type="single_select", options=["gold", "silver"]
    )
    for n, name in enumerate(["Katherine", "Kathleen", "Ada", "Grace", "Alan", "Edsger"]):
        await create_contact(
            factory,
            tenant=tenant,
            first_name=name,
            last_name=f"Family{n}",
            email=f"{name.lower()}.{n}@example.com",
            custom_fields={"tier": "gold" if n % 2 else "silver"},
        )
    return tenant


@pytest.fixture
async def tenant_with_contacts(
    factory: Factory, named_contacts: uuid.UUID, database_urls: tuple[str, str]
) -> uuid.UUID:
    """The six among 2,000 others, analyzed: enough rows that a tenant-wide scan is not
    the cheapest plan, as at production sizes."""
    tenant = named_contacts
    async with unit_of_work(factory, tenant_id=tenant) as session:
        session.add_all(
            Contact(
                id=uuid.uuid4(),
                tenant_id=tenant,
                first_name=f"Person{n}",
                last_name=f"Crowd{n}",
                email=f"person{n}@crowd.example",
            )
            for n in range(CROWD)
        )
    # VACUUM also moves the GIN indexes' pending entries into the index proper, which
    # the planner would otherwise cost as a scan of the pending list.
    owner = create_async_engine(database_urls[1], poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with owner.connect() as connection:
        await connection.execute(text("VACUUM ANALYZE contacts"))
    await owner.dispose()
    return tenant


class TestIndexesUnderRowLevelSecurity:
    async def test_full_text_search_uses_the_search_indexes(
        self, factory: Factory, tenant_with_contacts: uuid.UUID
    ) -> None:
        nodes = await search_plan(factory, tenant_with_contacts, SearchParams(query="kathe"))
        used = index_names(nodes)
        assert {"ix_contacts_search_vector", "ix_contacts_search_trigrams"} <= used, outline(nodes)
        assert not [n for n in nodes if n["Node Type"] == "Seq Scan"]

    async def test_substring_search_still_finds_mid_word_fragments(
        self, factory: Factory, tenant_with_contacts: uuid.UUID
    ) -> None:
        # "therine" is no word and no word's prefix: only the substring check finds it.
        async with unit_of_work(factory, tenant_id=tenant_with_contacts) as session:
            page = await contacts.search_page(session, params=SearchParams(query="therine.0@"))
        assert [c.first_name for c in page.rows] == ["Katherine"]

    async def test_custom_select_eq_uses_the_custom_fields_index(
        self, factory: Factory, tenant_with_contacts: uuid.UUID
    ) -> None:
        params = SearchParams(
            filter_groups=[[Filter("custom_fields.tier", "in", values=["gold", "bronze"])]]
        )
        nodes = await search_plan(factory, tenant_with_contacts, params)
        assert "ix_contacts_custom_fields" in index_names(nodes)

    async def test_external_id_eq_probes_its_unique_index(
        self, factory: Factory, tenant_with_contacts: uuid.UUID
    ) -> None:
        params = SearchParams(
            filter_groups=[[Filter("external_id", "eq", "SF-0031", has_value=True)]]
        )
        nodes = await search_plan(factory, tenant_with_contacts, params)
        assert "uq_contacts_tenant_id_external_id" in index_names(nodes), outline(nodes)
        assert not [n for n in nodes if n["Node Type"] == "Seq Scan"]

    async def test_cursor_bounds_the_created_at_index_scan(
        self, factory: Factory, tenant_with_contacts: uuid.UUID
    ) -> None:
        async with unit_of_work(factory, tenant_id=tenant_with_contacts) as session:
            first = await contacts.search_page(session, params=SearchParams(limit=2))
        nodes = await search_plan(
            factory, tenant_with_contacts, SearchParams(limit=2, cursor=first.next_cursor)
        )
        bounded = [
            n
            for n in nodes
            if n.get("Index Name") == "ix_contacts_tenant_id_created_at_id"
            and "created_at" in n.get("Index Cond", "")
        ]
        assert bounded, outline(nodes)


class TestKeysetOverNotNullColumns:
    @pytest.mark.parametrize(
        "sorts",
        [
            [Sort("created_at", "desc")],
            # Every phone is empty: the row comparison must fall through to the next
            # key and to the id.
            [Sort("phone", "asc"), Sort("first_name", "asc")],
            [Sort("phone", "desc"), Sort("created_at", "asc")],
            [Sort("owner_id", "asc"), Sort("last_name", "desc")],
        ],
    )
    async def test_pages_of_one_walk_the_full_order(
        self, factory: Factory, named_contacts: uuid.UUID, sorts: list[Sort]
    ) -> None:
        async with unit_of_work(factory, tenant_id=named_contacts) as session:
            full = await contacts.search_page(session, params=SearchParams(sorts=sorts))
            walked: list[uuid.UUID] = []
            cursor = ""
            while True:
                page = await contacts.search_page(
                    session, params=SearchParams(sorts=sorts, limit=1, cursor=cursor)
                )
                walked += [c.id for c in page.rows]
                cursor = page.next_cursor
                if not cursor:
                    break
        assert walked == [c.id for c in full.rows]
        assert len(walked) == 6
