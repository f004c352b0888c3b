"""Companies, custom fields, search and duplicates through the gateway."""

from __future__ import annotations

import httpx
import pytest

from .conftest import Account

pytestmark = pytest.mark.e2e


async def post(
    api: httpx.AsyncClient, account: Account, path: str, body: object
) -> dict[str, object]:
    response = await api.post(path, json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


class TestCompanies:
    async def test_crud_with_etags(self, api: httpx.AsyncClient, tenant_a: Account) -> None:
        company = await post(
            api, tenant_a, "/v1/companies", {"name": "Acme", "domain": "https://www.ACME.example/x"}
        )
        assert company["domain"] == "acme.example"
        path = f"/v1/companies/{company['id']}"
        fetched = await api.get(path, headers=tenant_a.headers)
        assert fetched.headers["ETag"] == '"1"'
        updated = await api.patch(
            path, json={"industry": "Retail"}, headers={**tenant_a.headers, "If-Match": '"1"'}
        )
        assert updated.status_code == 200
        assert updated.json()["industry"] == "Retail"
        stale = await api.patch(
            path, json={"industry": "X"}, headers={**tenant_a.headers, "If-Match": '"1"'}
        )
        assert stale.status_code == 412
        listed = await api.get(
            "/v1/companies", params={"filter": "industry:eq:Retail"}, headers=tenant_a.headers
        )
        assert [c["id"] for c in listed.json()["data"]] == [company["id"]]
        assert (await api.delete(path, headers=tenant_a.headers)).status_code == 204
        assert (await api.get(path, headers=tenant_a.headers)).status_code == 404

    async def test_duplicate_domain_is_409_with_candidates(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        first = await post(api, tenant_a, "/v1/companies", {"name": "A", "domain": "dup.example"})
        again = await api.post(
            "/v1/companies", json={"name": "B", "domain": "DUP.example"}, headers=tenant_a.headers
        )
        assert again.status_code == 409
        assert again.json()["code"] == "duplicate_company"
        assert again.json()["candidates"] == [first["id"]]
        await post(
            api,
            tenant_a,
            "/v1/companies",
            {"name": "B", "domain": "dup.example", "allow_duplicate": True},
        )

    async def test_update_to_a_taken_domain_is_409_with_candidates(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        first = await post(api, tenant_a, "/v1/companies", {"name": "A", "domain": "one.example"})
        other = await post(api, tenant_a, "/v1/companies", {"name": "B", "domain": "two.example"})
        path = f"/v1/companies/{other['id']}"
        taken = await api.patch(path, json={"domain": "ONE.example"}, headers=tenant_a.headers)
        assert taken.status_code == 409
        assert taken.json()["code"] == "duplicate_company"
        assert taken.json()["candidates"] == [first["id"]]
        allowed = await api.patch(
            path, json={"domain": "one.example", "allow_duplicate": True}, headers=tenant_a.headers
        )
        assert allowed.status_code == 200, allowed.text
        assert allowed.json()["domain"] == "one.example"


class TestCustomFieldsAndSearch:
    async def test_define_fill_and_search_by_custom_and_related_fields(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        await post(
            api,
            tenant_a,
            "/v1/custom-fields/contacts",
            {
                "key": "tier",
                "label": "Tier",
                "field_type": "single_select",
                "options": [{"value": "gold"}, {"value": "silver"}],
            },
        )
        await post(
            api,
            tenant_a,
            "/v1/custom-fields/contacts",
            {"key": "score", "label": "Score", "field_type": "number"},
        )
        shop = await post(api, tenant_a, "/v1/companies", {"name": "Shop", "industry": "Retail"})
        gold = await post(
            api,
            tenant_a,
            "/v1/contacts",
            {
                "first_name": "Gold",
                "custom_fields": {"tier": "gold", "score": 90},
                "company_ids": [shop["id"]],
            },
        )
        await post(
            api,
            tenant_a,
            "/v1/contacts",
            {"first_name": "Silver", "custom_fields": {"tier": "silver", "score": 40}},
        )
        assert gold["custom_fields"] == {"tier": "gold", "score": 90}
        assert gold["company_ids"] == [shop["id"]]

        bad = await api.post(
            "/v1/contacts",
            json={"first_name": "X", "custom_fields": {"tier": "bronze"}},
            headers=tenant_a.headers,
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "custom_fields.tier"

        search = await api.post(
            "/v1/contacts/search",
            json={
                "filter_groups": [
                    {"filters": [{"field": "custom_fields.score", "operator": "gte", "value": 50}]},
                    {
                        "filters": [
                            {"field": "companies.industry", "operator": "eq", "value": "Retail"}
                        ]
                    },
                ],
                "sorts": [{"field": "custom_fields.score", "direction": "desc"}],
            },
            headers=tenant_a.headers,
        )
        assert search.status_code == 200, search.text
        assert [c["first_name"] for c in search.json()["data"]] == ["Gold"]
        by_query_string = await api.get(
            "/v1/contacts",
            params={"filter": "custom_fields.tier:in:gold,silver", "sort": "-custom_fields.score"},
            headers=tenant_a.headers,
        )
        assert [c["first_name"] for c in by_query_string.json()["data"]] == ["Gold", "Silver"]
        text = await api.post(
            "/v1/contacts/search", json={"query": "silv"}, headers=tenant_a.headers
        )
        assert [c["first_name"] for c in text.json()["data"]] == ["Silver"]

        unknown = await api.post(
            "/v1/contacts/search",
            json={
                "filter_groups": [{"filters": [{"field": "nope", "operator": "eq", "value": 1}]}]
            },
            headers=tenant_a.headers,
        )
        assert unknown.status_code == 422
        assert unknown.json()["code"] == "unknown_field"
        assert [e["field"] for e in unknown.json()["errors"]] == [
            "filter_groups[0].filters[0].field"
        ]
        # The query string's filter and sort are named as the request spelled them.
        for query, field in (
            ("filter=first_name:eq:Gold&filter=nope:eq:1", "filter[1].field"),
            ("sort=-nope", "sort[0].field"),
        ):
            listed = await api.get(f"/v1/contacts?{query}", headers=tenant_a.headers)
            assert listed.status_code == 422, listed.text
            assert [e["field"] for e in listed.json()["errors"]] == [field]

    async def test_duplicate_contact_is_409_with_candidates(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        first = await post(api, tenant_a, "/v1/contacts", {"email": "twin@example.com"})
        again = await api.post(
            "/v1/contacts", json={"email": "TWIN@example.com"}, headers=tenant_a.headers
        )
        assert again.status_code == 409
        assert again.json()["candidates"] == [first["id"]]
        await post(
            api, tenant_a, "/v1/contacts", {"email": "twin@example.com", "allow_duplicate": True}
        )

    async def test_update_to_a_taken_email_is_409_with_candidates(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        first = await post(api, tenant_a, "/v1/contacts", {"email": "taken@example.com"})
        other = await post(api, tenant_a, "/v1/contacts", {"email": "free@example.com"})
        path = f"/v1/contacts/{other['id']}"
        taken = await api.patch(path, json={"email": "Taken@example.com"}, headers=tenant_a.headers)
        assert taken.status_code == 409
        assert taken.json()["code"] == "duplicate_contact"
        assert taken.json()["candidates"] == [first["id"]]
        allowed = await api.patch(
            path,
            json={"email": "taken@example.com", "allow_duplicate": True},
            headers=tenant_a.headers,
        )
        assert allowed.status_code == 200, allowed.text
