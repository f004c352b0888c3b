"""Filters, sorts, cursors and full-text search over contacts and companies."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.companies import service as companies
from crm_core.contacts import service as contacts
from crm_core.queries.filters import Filter
from crm_core.queries.fulltext import TYPO_FALLBACK_BELOW
from crm_core.queries.search import SearchParams
from crm_core.queries.sorting import Sort
from crm_kit.db.session import unit_of_work
from crm_kit.errors import InvalidArgument

from ..companies.factories import create_company
from ..contacts.factories import create_contact
from .seed import Seeded, seed

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


@pytest.fixture
async def seeded(factory: Factory, tenant: uuid.UUID) -> Seeded:
    return await seed(factory, tenant)


def where(field: str, operator: str, operand: Any = None) -> Filter:
    if isinstance(operand, tuple):
        return Filter(field, operator, values=list(operand))
    return Filter(field, operator, value=operand, has_value=operand is not None)


async def names(
    factory: Factory, tenant: uuid.UUID, seeded: Seeded, params: SearchParams
) -> list[str]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        page = await contacts.search_page(session, params=params)
    return seeded.names([c.id for c in page.rows])


# (field, operator, operand: a value, or a tuple of values; expected contacts)
CASES: list[tuple[str, str, Any, set[str]]] = [
    # a standard text field
    ("first_name", "eq", "bob", {"bob"}),
    ("first_name", "neq", "bob", {"ann", "cid", "dan"}),
    ("first_name", "lt", "bob", {"ann"}),
    ("first_name", "lte", "bob", {"ann", "bob"}),
    ("first_name", "gt", "bob", {"cid", "dan"}),
    ("first_name", "gte", "cid", {"cid", "dan"}),
    ("first_name", "between", ("b", "c"), {"bob"}),
    ("first_name", "in", ("ann", "dan", "zed"), {"ann", "dan"}),
    ("first_name", "not_in", ("ann", "dan"), {"bob", "cid"}),
    ("first_name", "contains", "O", {"bob"}),
    ("first_name", "starts_with", "C", {"cid"}),
    ("email", "contains", "%", set()),
    ("last_name", "is_empty", None, {"ann", "bob", "cid", "dan"}),
    ("last_name", "is_not_empty", None, set()),
    ("version", "eq", 1, {"ann", "bob", "cid", "dan"}),
    # text
    ("custom_fields.nick", "eq", "bobby", {"bob"}),
    ("custom_fields.nick", "neq", "bobby", {"ann", "cid", "dan"}),
    ("custom_fields.nick", "contains", "NN", {"ann"}),
    ("custom_fields.nick", "starts_with", "b", {"bob"}),
    ("custom_fields.nick", "lt", "Cid", {"ann"}),
    ("custom_fields.nick", "in", ("Cid", "bobby"), {"bob", "cid"}),
    ("custom_fields.nick", "not_in", ("Cid",), {"ann", "bob", "dan"}),
    ("custom_fields.nick", "is_empty", None, {"dan"}),
    ("custom_fields.nick", "is_not_empty", None, {"ann", "bob", "cid"}),
    # number
    ("custom_fields.score", "eq", 20, {"bob"}),
    ("custom_fields.score", "neq", 20, {"ann", "cid", "dan"}),
    ("custom_fields.score", "lt", 20, {"ann"}),
    ("custom_fields.score", "lte", 20, {"ann", "bob"}),
    ("custom_fields.score", "gt", 20, {"cid"}),
    ("custom_fields.score", "gte", 20.0, {"bob", "cid"}),
    ("custom_fields.score", "between", (15, 30), {"bob", "cid"}),
    ("custom_fields.score", "in", (10, 30), {"ann", "cid"}),
    ("custom_fields.score", "not_in", (10, 30), {"bob", "dan"}),
    ("custom_fields.score", "is_empty", None, {"dan"}),
    # decimal
    ("custom_fields.ratio", "gt", "1.5", {"bob"}),
    ("custom_fields.ratio", "lte", 1.5, {"ann", "cid"}),
    ("custom_fields.ratio", "eq", "2.250", {"bob"}),
    # currency (compares amount_minor)
    ("custom_fields.deal", "gte", 200, {"bob", "cid"}),
    ("custom_fields.deal", "between", (100, 200), {"ann", "bob"}),
    ("custom_fields.deal", "is_not_empty", None, {"ann", "bob", "cid"}),
    # date
    ("custom_fields.born", "lt", "2000-01-01", {"bob"}),
    ("custom_fields.born", "between", ("2000-01-01", "2010-12-31"), {"ann", "cid"}),
    ("custom_fields.born", "eq", "2010-12-31", {"cid"}),
    # datetime (offsets are honoured)
    ("custom_fields.seen", "gt", "2026-01-01T01:00:00+02:00", {"ann", "bob"}),
    ("custom_fields.seen", "lt", "2026-01-01T00:00:00Z", {"cid"}),
    ("custom_fields.seen", "in", ("2026-06-01T14:00:00+02:00",), {"bob"}),
    # boolean
    ("custom_fields.vip", "eq", True, {"ann", "cid"}),
    ("custom_fields.vip", "neq", True, {"bob", "dan"}),
    ("custom_fields.vip", "eq", "false", {"bob"}),
    ("custom_fields.vip", "is_empty", None, {"dan"}),
    # single select
    ("custom_fields.tier", "eq", "silver", {"bob", "cid"}),
    ("custom_fields.tier", "in", ("gold",), {"ann"}),
    ("custom_fields.tier", "not_in", ("gold",), {"bob", "cid", "dan"}),
    # multi select
    ("custom_fields.tags", "contains", "b", {"ann", "bob"}),
    ("custom_fields.tags", "in", ("a", "c"), {"ann", "cid"}),
    ("custom_fields.tags", "not_in", ("a", "c"), {"bob", "dan"}),
    ("custom_fields.tags", "eq", ("b", "a"), {"ann"}),
    ("custom_fields.tags", "neq", ("b",), {"ann", "cid", "dan"}),
    ("custom_fields.tags", "is_empty", None, {"dan"}),
    ("custom_fields.tags", "is_not_empty", None, {"ann", "bob", "cid"}),
    # email, phone, url
    ("custom_fields.alt_email", "contains", "@y.", {"bob"}),
    ("custom_fields.mobile", "eq", "+14155550123", {"bob"}),
    ("custom_fields.mobile", "starts_with", "+44", {"ann"}),
    ("custom_fields.site", "is_empty", None, {"cid", "dan"}),
    # linked records: any linked company matches
    ("companies.industry", "eq", "Software", {"bob"}),
    ("companies.industry", "eq", "Retail", {"ann", "bob"}),
    ("companies.name", "starts_with", "s", {"ann", "bob"}),
    ("companies.custom_fields.size", "gt", 10, {"bob"}),
    ("companies.id", "is_not_empty", None, {"ann", "bob"}),
]


class TestOperators:
    @pytest.mark.parametrize(
        ("field", "operator", "operand", "expected"),
        CASES,
        ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES],
    )
    async def test_filter_selects_exactly(
        self,
        factory: Factory,
        tenant: uuid.UUID,
        seeded: Seeded,
        field: str,
        operator: str,
        operand: Any,
        expected: set[str],
    ) -> None:
        params = SearchParams(filter_groups=[[where(field, operator, operand)]])
        assert set(await names(factory, tenant, seeded, params)) == expected

    async def test_and_within_a_group_or_between_groups(
        self, factory: Factory, tenant: uuid.UUID, seeded: Seeded
    ) -> None:
        params = SearchParams(
            filter_groups=[
                [
                    where("custom_fields.tier", "eq", "silver"),
                    where("custom_fields.vip", "eq", True),
                ],
                [where("first_name", "eq", "dan")],
            ]
        )
        assert set(await names(factory, tenant, seeded, params)) == {"cid", "dan"}


class TestInvalidFilters:
    @pytest.mark.parametrize(
        ("condition", "code"),
        [
            (where("nope", "eq", "x"), "unknown_field"),
            (where("custom_fields.nope", "eq", "x"), "unknown_field"),
            (where("companies.nope", "eq", "x"), "unknown_field"),
            (where("first_name", "like", "x"), "unknown_operator"),
            (where("custom_fields.vip", "lt", True), "unsupported_operator"),
            (where("custom_fields.tags", "starts_with", "a"), "unsupported_operator"),
            (where("custom_fields.score", "eq", "ten"), "invalid_filter_value"),
            (where("custom_fields.born", "gt", "yesterday"), "invalid_filter_value"),
            (where("custom_fields.seen", "gt", "2026-01-01T00:00:00"), "invalid_filter_value"),
            (where("owner_id", "eq", "not-a-uuid"), "invalid_filter_value"),
            (where("first_name", "eq", 5), "invalid_filter_value"),
            (where("first_name", "eq"), "invalid_filter_value"),
            (where("first_name", "between", ("a",)), "invalid_filter_value"),
            (where("first_name", "in", ()), "invalid_filter_value"),
        ],
    )
    async def test_bad_filter_is_invalid_argument(
        self, factory: Factory, tenant: uuid.UUID, seeded: Seeded, condition: Filter, code: str
    ) -> None:
        with pytest.raises(InvalidArgument) as caught:
            await names(factory, tenant, seeded, SearchParams(filter_groups=[[condition]]))
        assert caught.value.code == code
        assert caught.value.details["field"].startswith("filter_groups[0].filters[0]")

    async def test_empty_group_is_refused(
        self, factory: Factory, tenant: uuid.UUID, seeded: Seeded
    ) -> None:
        with pytest.raises(InvalidArgument):
            await names(factory, tenant, seeded, SearchParams(filter_groups=[[]]))


class TestSort:
    async def test_sort_by_custom_field_nulls_last_ties_by_id(
        self, factory: Factory, tenant: uuid.UUID, seeded: Seeded
    ) -> None:
        params = SearchParams(sorts=[Sort("custom_fields.tier", "asc")])
        ordered = await names(factory, tenant, seeded, params)
        silver = sorted(["bob", "cid"], key=lambda n: seeded.contacts[n].id)
        assert ordered == ["ann", *silver, "dan"]
        params = SearchParams(sorts=[Sort("custom_fields.score", "desc")])
        assert await names(factory, tenant, seeded, params) == ["dan", "cid", "bob", "ann"]

    async def test_every_page_size_walks_the_same_order(
        self, factory: Factory, tenant: uuid.UUID, seeded: Seeded
    ) -> None:
        sorts = [Sort("custom_fields.tier", "desc"), Sort("custom_fields.born", "asc")]
        full = await names(factory, tenant, seeded, SearchParams(sorts=sorts))
        walked: list[str] = []
        cursor = ""
        async with unit_of_work(factory, tenant_id=tenant) as session:
            while True:
                page = await contacts.search_page(
                    session, params=SearchParams(sorts=sorts, limit=1, cursor=cursor)
                )
                walked += seeded.names([c.id for c in page.rows])
                cursor = page.next_cursor
                if not cursor:
                    break
        assert walked == full
        assert sorted(full) == ["ann", "bob", "cid", "dan"]

    async def test_cursor_is_stable_while_rows_are_inserted(
        self, factory: Factory, tenant: uuid.UUID, seeded: Seeded
    ) -> None:
        async with unit_of_work(factory, tenant_id=tenant) as session:
            first = await contacts.search_page(session, params=SearchParams(limit=2))
        # Inserted between pages: sorts after everything (newer created_at).
        for n in range(3):
            await create_contact(factory, tenant=tenant, first_name=f"new{n}", email=f"n{n}@e.x")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            rest = await contacts.search_page(
                session, params=SearchParams(limit=100, cursor=first.next_cursor)
            )
        seen = [c.first_name for c in first.rows + rest.rows]
        assert seen == ["ann", "bob", "cid", "dan", "new0", "new1", "new2"]

    async def test_cursor_of_another_sort_is_refused(
        self, factory: Factory, tenant: uuid.UUID, seeded: Seeded
    ) -> None:
        async with unit_of_work(factory, tenant_id=tenant) as session:
            page = await contacts.search_page(session, params=SearchParams(limit=1))
            for params in (
                SearchParams(sorts=[Sort("first_name")], cursor=page.next_cursor),
                SearchParams(cursor="garbage!"),
            ):
                with pytest.raises(InvalidArgument) as caught:
                    await contacts.search_page(session, params=params)
                assert caught.value.code == "invalid_cursor"

    @pytest.mark.parametrize(
        "sort",
        [
            Sort("custom_fields.tags"),
            Sort("nope"),
            Sort("companies.name"),
            Sort("first_name", "up"),
        ],
    )
    async def test_unsortable_is_invalid(
        self, factory: Factory, tenant: uuid.UUID, seeded: Seeded, sort: Sort
    ) -> None:
        with pytest.raises(InvalidArgument):
            await names(factory, tenant, seeded, SearchParams(sorts=[sort]))


class TestFullText:
    async def test_ranked_search_over_names_emails_and_phones(
        self, factory: Factory, tenant: uuid.UUID, seeded: Seeded
    ) -> None:
        await create_contact(factory, tenant=tenant, first_name="Bobbie", email="bb@example.com")
        await create_contact(
            factory, tenant=tenant, first_name="Phil", email="", phone="+1 (415) 555-0199"
        )
        # A whole-word match ranks above a partial one.
        assert await names_by_first(factory, tenant, SearchParams(query="Bob")) == ["bob", "Bobbie"]
        assert await names_by_first(factory, tenant, SearchParams(query="ann@exa")) == ["ann"]
        assert await names_by_first(factory, tenant, SearchParams(query="4155550199")) == ["Phil"]
        assert await names_by_first(factory, tenant, SearchParams(query="bobie")) == ["Bobbie"]

    async def test_typos_join_only_when_exact_matches_are_few(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await create_contact(factory, tenant=tenant, first_name="Kathlene", email="")
        for n in range(TYPO_FALLBACK_BELOW - 1):
            await create_contact(factory, tenant=tenant, first_name="Kathleen", email=f"k{n}@x.io")
        few = await names_by_first(factory, tenant, SearchParams(query="kathleen", limit=100))
        # Ranked below every exact match.
        assert few == ["Kathleen"] * (TYPO_FALLBACK_BELOW - 1) + ["Kathlene"]
        await create_contact(factory, tenant=tenant, first_name="Kathleen", email="last@x.io")
        many = await names_by_first(factory, tenant, SearchParams(query="kathleen", limit=100))
        assert many == ["Kathleen"] * TYPO_FALLBACK_BELOW

    async def test_query_combines_with_filters(
        self, factory: Factory, tenant: uuid.UUID, seeded: Seeded
    ) -> None:
        params = SearchParams(
            query="example.com",
            filter_groups=[[where("custom_fields.vip", "eq", True)]],
            sorts=[Sort("first_name")],
        )
        assert await names_by_first(factory, tenant, params) == ["ann", "cid"]

    async def test_company_search_by_partial_domain(
        self, factory: Factory, tenant: uuid.UUID
    ) -> None:
        await create_company(factory, tenant=tenant, name="Globex", domain="globex-corp.com")
        await create_company(factory, tenant=tenant, name="Initech", domain="initech.com")
        async with unit_of_work(factory, tenant_id=tenant) as session:
            page = await companies.search_page(session, params=SearchParams(query="globex-co"))
        assert [c.name for c in page.rows] == ["Globex"]


async def names_by_first(factory: Factory, tenant: uuid.UUID, params: SearchParams) -> list[str]:
    async with unit_of_work(factory, tenant_id=tenant) as session:
        page = await contacts.search_page(session, params=params)
    return [c.first_name for c in page.rows]


class TestTenantIsolation:
    async def test_search_sees_only_the_callers_tenant(
        self, factory: Factory, tenant: uuid.UUID, other_tenant: uuid.UUID, seeded: Seeded
    ) -> None:
        await seed(factory, other_tenant)
        async with unit_of_work(factory, tenant_id=other_tenant) as session:
            page = await contacts.search_page(
                session,
                params=SearchParams(filter_groups=[[where("custom_fields.score", "gt", 0)]]),
            )
        assert {c.tenant_id for c in page.rows} == {other_tenant}
        assert len(page.rows) == 3
