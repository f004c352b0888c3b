"""Another tenant's contact answers 404 on every route and never shows in a list."""

from __future__ import annotations

import httpx
import pytest

from .conftest import Account
from .test_pipelines_deals_leads import create_deal, create_pipeline
from .test_records import post
from .test_slice import create_contact

pytestmark = pytest.mark.e2e


class TestCrossTenant:
    async def test_tenant_b_cannot_see_or_touch_tenant_a_contact(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        contact = await create_contact(api, tenant_a, first_name="Secret", email="s@a.example")
        path = f"/v1/contacts/{contact['id']}"

        responses = [
            await api.get(path, headers=tenant_b.headers),
            await api.patch(path, json={"first_name": "Pwned"}, headers=tenant_b.headers),
            await api.delete(path, headers=tenant_b.headers),
        ]
        assert [r.status_code for r in responses] == [404, 404, 404]
        assert all(r.json()["code"] == "contact_not_found" for r in responses)
        listed = (await api.get("/v1/contacts", headers=tenant_b.headers)).json()["data"]
        assert listed == []

        intact = await api.get(path, headers=tenant_a.headers)
        assert intact.status_code == 200
        assert intact.json()["first_name"] == "Secret"

    async def test_spoofed_tenant_header_is_ignored(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        await create_contact(api, tenant_a, first_name="OnlyA")
        spoofed = {
            **tenant_b.headers,
            "X-Tenant-Id": tenant_a.tenant_id,
            "X-User-Id": tenant_a.user_id,
            "X-Roles": "owner",
        }
        listed = await api.get("/v1/contacts", headers=spoofed)
        assert listed.status_code == 200
        assert listed.json()["data"] == []


class TestCrossTenantRecords:
    async def test_companies_and_custom_fields_of_tenant_a_are_404_for_tenant_b(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        company = await post(
            api, tenant_a, "/v1/companies", {"name": "Secret", "domain": "s.example"}
        )
        field = await post(
            api,
            tenant_a,
            "/v1/custom-fields/contacts",
            {"key": "secret", "label": "Secret", "field_type": "text"},
        )
        company_path = f"/v1/companies/{company['id']}"
        field_path = f"/v1/custom-fields/contacts/{field['id']}"
        responses = [
            await api.get(company_path, headers=tenant_b.headers),
            await api.patch(company_path, json={"name": "Pwned"}, headers=tenant_b.headers),
            await api.delete(company_path, headers=tenant_b.headers),
            await api.get(field_path, headers=tenant_b.headers),
            await api.patch(field_path, json={"label": "Pwned"}, headers=tenant_b.headers),
            await api.delete(field_path, headers=tenant_b.headers),
        ]
        assert [r.status_code for r in responses] == [404] * 6
        for path in ("/v1/companies", "/v1/custom-fields/contacts"):
            listed = await api.get(path, headers=tenant_b.headers)
            assert listed.json()["data"] == []
        searched = await api.post(
            "/v1/companies/search", json={"query": "secret"}, headers=tenant_b.headers
        )
        assert searched.json()["data"] == []
        # Nor can tenant B link A's company, use A's custom field, or see A's duplicates.
        linked = await api.post(
            "/v1/contacts",
            json={"first_name": "B", "company_ids": [company["id"]]},
            headers=tenant_b.headers,
        )
        assert linked.status_code == 422
        used = await api.post(
            "/v1/contacts",
            json={"first_name": "B", "custom_fields": {"secret": "x"}},
            headers=tenant_b.headers,
        )
        assert used.status_code == 422
        same_domain = await api.post(
            "/v1/companies", json={"name": "Mine", "domain": "s.example"}, headers=tenant_b.headers
        )
        assert same_domain.status_code == 201
        intact = await api.get(company_path, headers=tenant_a.headers)
        assert intact.json()["name"] == "Secret"


class TestCrossTenantPipelinesDealsLeads:
    async def test_every_route_answers_404_for_another_tenant(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        pipeline = await create_pipeline(api, tenant_a)
        stage = pipeline["stages"][0]["id"]
        deal = await create_deal(api, tenant_a, pipeline, name="Secret deal")
        lead = await post(api, tenant_a, "/v1/leads", {"first_name": "Secret"})
        p, d, ld = (
            f"/v1/pipelines/{pipeline['id']}",
            f"/v1/deals/{deal['id']}",
            f"/v1/leads/{lead['id']}",
        )
        b = tenant_b.headers
        responses = {
            "get pipeline": await api.get(p, headers=b),
            "patch pipeline": await api.patch(p, json={"name": "Pwned"}, headers=b),
            "delete pipeline": await api.delete(p, headers=b),
            "add stage": await api.post(f"{p}/stages", json={"name": "X"}, headers=b),
            "patch stage": await api.patch(f"{p}/stages/{stage}", json={"name": "X"}, headers=b),
            "delete stage": await api.delete(f"{p}/stages/{stage}", headers=b),
            "board": await api.get(f"{p}/board", headers=b),
            "get deal": await api.get(d, headers=b),
            "patch deal": await api.patch(d, json={"name": "Pwned"}, headers=b),
            "move deal": await api.post(f"{d}/move", json={"stage_id": stage}, headers=b),
            "deal history": await api.get(f"{d}/stage-history", headers=b),
            "delete deal": await api.delete(d, headers=b),
            "get lead": await api.get(ld, headers=b),
            "patch lead": await api.patch(ld, json={"first_name": "Pwned"}, headers=b),
            "convert lead": await api.post(f"{ld}/convert", json={}, headers=b),
            "delete lead": await api.delete(ld, headers=b),
        }
        assert {k: r.status_code for k, r in responses.items()} == dict.fromkeys(responses, 404)
        for path in ("/v1/deals", "/v1/leads"):
            listed = await api.get(path, headers=b)
            assert listed.json()["data"] == []
        searched = await api.post(
            "/v1/deals/search",
            json={
                "filter_groups": [
                    {"filters": [{"field": "name", "operator": "eq", "value": "Secret deal"}]}
                ]
            },
            headers=b,
        )
        assert searched.status_code == 200, searched.text
        assert searched.json()["data"] == []
        assert pipeline["id"] not in [
            x["id"] for x in (await api.get("/v1/pipelines", headers=b)).json()["data"]
        ]
        # Nor can tenant B put a deal in A's stage.
        placed = await api.post(
            "/v1/deals", json={"name": "B", "currency": "EUR", "stage_id": stage}, headers=b
        )
        assert placed.status_code == 422
        intact = await api.get(d, headers=tenant_a.headers)
        assert (intact.json()["name"], intact.json()["version"]) == ("Secret deal", 1)
        assert (await api.get(ld, headers=tenant_a.headers)).json()["first_name"] == "Secret"
