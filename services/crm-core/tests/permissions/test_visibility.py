"""Own-record visibility: a member whose rule says `own` sees only its records,
on every path (get, driver read, list, search, linked filters, board, writes)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.companies import service as companies
from crm_core.companies.schemas import CompanyCreate
from crm_core.contacts import service as contacts
from crm_core.contacts.schemas import ContactUpdate
from crm_core.custom_fields.record_values import RecordWrite, validated_values
from crm_core.deals import service as deals
from crm_core.leads import service as leads
from crm_core.models import Contact, Task
from crm_core.permissions.visibility import audience_of, caller_session
from crm_core.pipelines.board import board
from crm_core.queries.filters import Filter
from crm_core.queries.search import SearchParams
from crm_core.records.registry import CONTACTS
from crm_kit.context import current_context
from crm_kit.db.driver_reads import tenant_read
from crm_kit.db.models import new_id
from crm_kit.db.session import unit_of_work
from crm_kit.errors import Conflict, NotFound

from ..contacts.factories import create_contact
from ..custom_fields.factories import define_field
from ..deals.factories import create_deal
from ..leads.factories import create_lead
from ..pipelines.factories import create_pipeline
from .factories import calling_as, set_visibility

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Team:
    tenant: uuid.UUID
    alice: uuid.UUID
    bob: uuid.UUID
    alices: Contact
    bobs: Contact


@pytest.fixture
async def team(factory: async_sessionmaker[AsyncSession], tenant: uuid.UUID) -> Team:
    """Two members, a contact each, and members limited to their own records."""
    alice, bob = uuid.uuid4(), uuid.uuid4()
    alices = await create_contact(factory, tenant=tenant, email="a@example.com", owner_id=alice)
    bobs = await create_contact(factory, tenant=tenant, email="b@example.com", owner_id=bob)
    await set_visibility(factory, tenant=tenant, visibility="own")
    return Team(tenant, alice, bob, alices, bobs)


async def _visible_ids(
    factory: async_sessionmaker[AsyncSession], params: SearchParams
) -> set[uuid.UUID]:
    async with caller_session(factory) as session:
        page = await contacts.search_page(session, params=params)
    return {c.id for c in page.rows}


async def _driver_read(factory: async_sessionmaker[AsyncSession], contact_id: uuid.UUID) -> Contact:
    ctx = current_context()
    tenant = ctx.require_tenant()
    async with tenant_read(factory, tenant_id=tenant) as connection:
        contact, _ = await contacts.read(
            connection, tenant_id=tenant, contact_id=contact_id, audience=audience_of(ctx)
        )
    return contact


class TestReads:
    async def test_get_list_and_search_show_only_own(
        self, factory: async_sessionmaker[AsyncSession], team: Team
    ) -> None:
        with calling_as(team.tenant, team.alice, "member"):
            async with caller_session(factory) as session:
                mine = await contacts.get(session, contact_id=team.alices.id)
                with pytest.raises(NotFound):
                    await contacts.get(session, contact_id=team.bobs.id)
                listed = await contacts.list_page(session, limit=100, cursor="")
            searched = await _visible_ids(factory, SearchParams(query="example"))
        assert mine.id == team.alices.id
        assert [c.id for c in listed.contacts] == [team.alices.id]
        assert searched == {team.alices.id}

    async def test_the_driver_read_applies_visibility_too(
        self, factory: async_sessionmaker[AsyncSession], team: Team
    ) -> None:
        with calling_as(team.tenant, team.alice, "member"):
            assert (await _driver_read(factory, team.alices.id)).id == team.alices.id
            with pytest.raises(NotFound):
                await _driver_read(factory, team.bobs.id)
        with calling_as(team.tenant, uuid.uuid4(), "admin"):
            assert (await _driver_read(factory, team.bobs.id)).id == team.bobs.id

    async def test_a_linked_filter_does_not_see_hidden_records(
        self, factory: async_sessionmaker[AsyncSession], team: Team
    ) -> None:
        async with unit_of_work(factory, tenant_id=team.tenant) as session:
            company = await companies.create(
                session, data=CompanyCreate(name="Acme", owner_id=team.alice)
            )
            await contacts.update(
                session, contact_id=team.bobs.id, data=ContactUpdate(company_ids=[company.id])
            )
        by_bobs_email = SearchParams(
            filter_groups=[[Filter("contacts.email", "eq", "b@example.com", has_value=True)]]
        )
        found: dict[str, list[uuid.UUID]] = {}
        for role, user in (("member", team.alice), ("admin", uuid.uuid4())):
            with calling_as(team.tenant, user, role):
                async with caller_session(factory) as session:
                    page = await companies.search_page(session, params=by_bobs_email)
            found[role] = [c.id for c in page.rows]
        assert found == {"member": [], "admin": [company.id]}

    async def test_the_board_counts_only_visible_deals(
        self, factory: async_sessionmaker[AsyncSession], team: Team
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=team.tenant)
        for owner, amount in ((team.alice, 100), (team.bob, 250)):
            await create_deal(
                factory,
                tenant=team.tenant,
                pipeline_id=pipeline.id,
                owner_id=owner,
                amount_minor=amount,
            )
        totals = {}
        for role, user in (("member", team.alice), ("owner", uuid.uuid4())):
            with calling_as(team.tenant, user, role):
                async with caller_session(factory) as session:
                    view = await board(session, pipeline_id=pipeline.id)
            first = view.columns[0]
            totals[role] = (first.deal_count, [t.amount_minor for t in first.totals])
        assert totals == {"member": (1, [100]), "owner": (2, [350])}


class TestWrites:
    async def test_another_members_record_cannot_be_updated_or_deleted(
        self, factory: async_sessionmaker[AsyncSession], team: Team
    ) -> None:
        with calling_as(team.tenant, team.alice, "member"):
            async with caller_session(factory) as session:
                with pytest.raises(NotFound):
                    await contacts.update(
                        session,
                        contact_id=team.bobs.id,
                        data=ContactUpdate(changes={"last_name": "X"}),
                    )
                with pytest.raises(NotFound):
                    await contacts.delete(session, contact_id=team.bobs.id)
        async with unit_of_work(factory, tenant_id=team.tenant) as session:
            untouched = await contacts.get(session, contact_id=team.bobs.id)
        assert (untouched.last_name, untouched.version) == ("", team.bobs.version)

    async def test_unique_values_are_checked_against_hidden_records(
        self, factory: async_sessionmaker[AsyncSession], team: Team
    ) -> None:
        await define_field(
            factory, tenant=team.tenant, key="badge", field_type="text", is_unique=True
        )
        async with unit_of_work(factory, tenant_id=team.tenant) as session:
            await contacts.update(
                session, contact_id=team.bobs.id, data=ContactUpdate(custom_fields={"badge": "B1"})
            )
        with calling_as(team.tenant, team.alice, "member"):
            async with caller_session(factory) as session:
                write = RecordWrite(CONTACTS, {}, {"badge": "B1"}, uuid.uuid4(), creating=True)
                with pytest.raises(Conflict):
                    await validated_values(session, write)


class TestRules:
    async def test_a_rule_change_applies_to_the_next_request(
        self, factory: async_sessionmaker[AsyncSession], team: Team
    ) -> None:
        with calling_as(team.tenant, team.alice, "member"):
            before = await _visible_ids(factory, SearchParams())
            await set_visibility(
                factory, tenant=team.tenant, visibility="all", object_types=("contacts",)
            )
            after = await _visible_ids(factory, SearchParams())
        assert before == {team.alices.id}
        assert after == {team.alices.id, team.bobs.id}

    async def test_one_role_with_all_is_enough(
        self, factory: async_sessionmaker[AsyncSession], team: Team
    ) -> None:
        with calling_as(team.tenant, team.alice, "member", "viewer"):
            seen = await _visible_ids(factory, SearchParams())
        assert seen == {team.alices.id, team.bobs.id}

    async def test_rules_are_per_tenant(
        self, factory: async_sessionmaker[AsyncSession], team: Team, other_tenant: uuid.UUID
    ) -> None:
        theirs = await create_contact(factory, tenant=other_tenant, email="t@example.com")
        with calling_as(other_tenant, team.alice, "member"):
            seen = await _visible_ids(factory, SearchParams())
        assert seen == {theirs.id}


class TestRowLevelSecurity:
    async def test_rules_show_only_under_their_tenant(
        self, database_urls: tuple[str, str], team: Team, other_tenant: uuid.UUID
    ) -> None:
        conn = await asyncpg.connect(database_urls[0].replace("postgresql+asyncpg", "postgresql"))
        try:
            count = "SELECT count(*) FROM record_visibility_rules"
            assert await conn.fetchval(count) == 0
            for acting, expected in ((team.tenant, 4), (other_tenant, 0)):
                async with conn.transaction():
                    await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(acting))
                    assert await conn.fetchval(count) == expected
        finally:
            await conn.close()


class TestEveryRecordType:
    async def test_companies_leads_and_deals_hide_others_records(
        self, factory: async_sessionmaker[AsyncSession], team: Team
    ) -> None:
        pipeline = await create_pipeline(factory, tenant=team.tenant)
        async with unit_of_work(factory, tenant_id=team.tenant) as session:
            company = await companies.create(
                session, data=CompanyCreate(name="Bobs", owner_id=team.bob)
            )
        lead = await create_lead(factory, tenant=team.tenant, owner_id=team.bob)
        deal = await create_deal(
            factory, tenant=team.tenant, pipeline_id=pipeline.id, owner_id=team.bob
        )
        hidden = []
        with calling_as(team.tenant, team.alice, "member"):
            async with caller_session(factory) as session:
                for get in (
                    companies.get(session, company_id=company.id),
                    leads.get(session, lead_id=lead.id),
                    deals.get(session, deal_id=deal.id),
                ):
                    with pytest.raises(NotFound) as refused:
                        await get
                    hidden.append(refused.value.code)
        assert hidden == ["company_not_found", "lead_not_found", "deal_not_found"]


class TestTasks:
    async def test_own_tasks_are_those_owned_or_assigned(
        self, factory: async_sessionmaker[AsyncSession], team: Team
    ) -> None:
        titles = {"owned": (team.alice, None), "assigned": (team.bob, team.alice)}
        titles["others"] = (team.bob, team.bob)
        async with unit_of_work(factory, tenant_id=team.tenant) as session:
            for title, (owner, assignee) in titles.items():
                session.add(Task(id=new_id(), title=title, owner_id=owner, assignee_id=assignee))
        await set_visibility(factory, tenant=team.tenant, visibility="own", object_types=("tasks",))
        seen = {}
        for role, user in (("member", team.alice), ("admin", uuid.uuid4())):
            with calling_as(team.tenant, user, role):
                async with caller_session(factory) as session:
                    seen[role] = set(await session.scalars(select(Task.title)))
        assert seen == {"member": {"owned", "assigned"}, "admin": set(titles)}
