"""Pipelines, deals and leads through the gateway: board, stage moves, conversion."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import Account
from .test_records import post

pytestmark = pytest.mark.e2e

STAGES = [
    {"name": "Qualified", "probability": 20},
    {"name": "Proposal", "probability": 60},
    {"name": "Won", "probability": 100, "kind": "won"},
]


async def create_pipeline(api: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    return await post(api, account, "/v1/pipelines", {"name": "Enterprise", "stages": STAGES})


async def create_deal(
    api: httpx.AsyncClient, account: Account, pipeline: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {"name": "Deal", "currency": "EUR", "pipeline_id": pipeline["id"], **fields}
    return await post(api, account, "/v1/deals", body)


class TestPipelinesAndDeals:
    async def test_move_deal_history_and_board(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        pipeline = await create_pipeline(api, tenant_a)
        qualified, proposal, won = (s["id"] for s in pipeline["stages"])
        deal = await create_deal(api, tenant_a, pipeline, amount_minor=1000)
        await create_deal(api, tenant_a, pipeline, amount_minor=500, currency="usd")
        assert (deal["stage_id"], deal["probability"], deal["status"]) == (qualified, 20, "open")
        path = f"/v1/deals/{deal['id']}"
        moved = await api.post(
            f"{path}/move",
            json={"stage_id": proposal},
            headers={**tenant_a.headers, "If-Match": '"1"'},
        )
        assert moved.status_code == 200, moved.text
        assert (moved.headers["ETag"], moved.json()["probability"]) == ('"2"', 60)
        stale = await api.patch(
            path, json={"stage_id": won}, headers={**tenant_a.headers, "If-Match": '"1"'}
        )
        assert stale.status_code == 412
        closed = await api.patch(path, json={"stage_id": won}, headers=tenant_a.headers)
        assert closed.json()["status"] == "won"
        history = (await api.get(f"{path}/stage-history", headers=tenant_a.headers)).json()
        assert [(h["from_stage_id"], h["to_stage_id"]) for h in history["data"]] == [
            (None, qualified),
            (qualified, proposal),
            (proposal, won),
        ]
        assert history["data"][1]["time_in_previous_stage_seconds"] >= 0
        board = await api.get(f"/v1/pipelines/{pipeline['id']}/board", headers=tenant_a.headers)
        columns = {c["stage"]["id"]: c for c in board.json()["columns"]}
        assert columns[qualified]["totals"] == [
            {"currency": "USD", "amount_minor": 500, "count": 1}
        ]
        assert columns[won]["totals"] == [{"currency": "EUR", "amount_minor": 1000, "count": 1}]
        assert columns[proposal]["deal_count"] == 0

    async def test_stage_and_pipeline_removal_rules(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        pipeline = await create_pipeline(api, tenant_a)
        path = f"/v1/pipelines/{pipeline['id']}"
        qualified, proposal, _ = (s["id"] for s in pipeline["stages"])
        deal = await create_deal(api, tenant_a, pipeline)
        refused = await api.delete(f"{path}/stages/{qualified}", headers=tenant_a.headers)
        assert (refused.status_code, refused.json()["code"]) == (409, "stage_has_deals")
        removed = await api.delete(
            f"{path}/stages/{qualified}",
            params={"move_deals_to": proposal},
            headers=tenant_a.headers,
        )
        assert [s["name"] for s in removed.json()["stages"]] == ["Proposal", "Won"]
        fetched = await api.get(f"/v1/deals/{deal['id']}", headers=tenant_a.headers)
        assert fetched.json()["stage_id"] == proposal
        busy = await api.delete(path, headers=tenant_a.headers)
        assert (busy.status_code, busy.json()["code"]) == (409, "pipeline_has_deals")
        assert (
            await api.delete(f"/v1/deals/{deal['id']}", headers=tenant_a.headers)
        ).status_code == 204
        assert (await api.delete(path, headers=tenant_a.headers)).status_code == 204
        assert (await api.get(path, headers=tenant_a.headers)).status_code == 404

    async def test_deal_custom_fields_and_company_filter(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        pipeline = await create_pipeline(api, tenant_a)
        await post(
            api,
            tenant_a,
            "/v1/custom-fields/deals",
            {"key": "segment", "label": "Segment", "field_type": "text"},
        )
        company = await post(api, tenant_a, "/v1/companies", {"name": "Shop", "industry": "Retail"})
        mine = await create_deal(
            api, tenant_a, pipeline, company_id=company["id"], custom_fields={"segment": "smb"}
        )
        await create_deal(api, tenant_a, pipeline)
        searched = await api.post(
            "/v1/deals/search",
            json={
                "filter_groups": [
                    {
                        "filters": [
                            {"field": "company.industry", "operator": "eq", "value": "Retail"},
                            {"field": "custom_fields.segment", "operator": "eq", "value": "smb"},
                        ]
                    }
                ]
            },
            headers=tenant_a.headers,
        )
        assert [d["id"] for d in searched.json()["data"]] == [mine["id"]]


class TestLeads:
    async def test_convert_reuses_company_by_domain_and_refuses_twice(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        pipeline = await create_pipeline(api, tenant_a)
        company = await post(
            api, tenant_a, "/v1/companies", {"name": "Prospect", "domain": "prospect.example"}
        )
        lead = await post(
            api,
            tenant_a,
            "/v1/leads",
            {
                "first_name": "Lin",
                "email": "lin@prospect.example",
                "company_name": "Prospect Ltd",
                "domain": "https://www.prospect.example",
                "source": "web_form",
            },
        )
        found = await api.get(
            "/v1/leads", params={"filter": "source:eq:web_form"}, headers=tenant_a.headers
        )
        assert [x["id"] for x in found.json()["data"]] == [lead["id"]]
        path = f"/v1/leads/{lead['id']}/convert"
        body = {
            "create_company": True,
            "deal": {"amount_minor": 2500, "currency": "EUR", "pipeline_id": pipeline["id"]},
        }
        converted = await api.post(path, json=body, headers=tenant_a.headers)
        assert converted.status_code == 200, converted.text
        result = converted.json()
        assert (result["company_id"], result["company_created"]) == (company["id"], False)
        assert result["lead"]["status"] == "converted"
        assert result["lead"]["converted_deal_id"] == result["deal_id"]
        deal = (await api.get(f"/v1/deals/{result['deal_id']}", headers=tenant_a.headers)).json()
        assert (deal["company_id"], deal["contact_ids"]) == (company["id"], [result["contact_id"]])
        again = await api.post(path, json=body, headers=tenant_a.headers)
        assert (again.status_code, again.json()["code"]) == (409, "lead_already_converted")

    async def test_failed_conversion_writes_nothing(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        lead = await post(api, tenant_a, "/v1/leads", {"email": "half@way.example"})
        failed = await api.post(
            f"/v1/leads/{lead['id']}/convert",
            json={"deal": {"currency": "ZZZ"}},
            headers=tenant_a.headers,
        )
        assert failed.status_code == 422
        contacts = await api.get(
            "/v1/contacts", params={"filter": "email:eq:half@way.example"}, headers=tenant_a.headers
        )
        assert contacts.json()["data"] == []
        kept = await api.get(f"/v1/leads/{lead['id']}", headers=tenant_a.headers)
        assert (kept.json()["status"], kept.headers["ETag"]) == ("new", '"1"')
