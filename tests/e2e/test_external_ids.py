"""external_id through the whole stack: set on create, read back, filtered on, a taken
value refused with 409, cleared; per tenant; and what a CSV import wrote is what the
API finds and guards."""

from __future__ import annotations

import httpx
import pytest

from crm_gateway.problems import PROBLEM_MEDIA_TYPE

from .conftest import Account
from .test_imports import finished, upload_contacts

pytestmark = pytest.mark.e2e


async def ids_with(api: httpx.AsyncClient, account: Account, external_id: str) -> list[str]:
    listed = await api.get(
        "/v1/contacts", params={"filter": f"external_id:eq:{external_id}"}, headers=account.headers
    )
    assert listed.status_code == 200, listed.text
    return [c["id"] for c in listed.json()["data"]]


class TestExternalIds:
    async def test_create_read_filter_conflict_and_clear(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        created = await api.post(
            "/v1/contacts",
            json={"first_name": "Ada", "external_id": " SF-0031 "},
            headers=tenant_a.headers,
        )
        assert created.status_code == 201, created.text
        contact = created.json()
        assert contact["external_id"] == "SF-0031"
        path = f"/v1/contacts/{contact['id']}"
        assert (await api.get(path, headers=tenant_a.headers)).json()["external_id"] == "SF-0031"
        other = await api.post("/v1/contacts", json={"first_name": "Bob"}, headers=tenant_a.headers)
        assert other.json()["external_id"] is None

        assert await ids_with(api, tenant_a, "SF-0031") == [contact["id"]]
        searched = await api.post(
            "/v1/contacts/search",
            json={
                "filter_groups": [
                    {"filters": [{"field": "external_id", "operator": "eq", "value": "SF-0031"}]}
                ]
            },
            headers=tenant_a.headers,
        )
        assert [c["id"] for c in searched.json()["data"]] == [contact["id"]]

        taken = await api.post(
            "/v1/contacts",
            json={"first_name": "Eve", "external_id": "SF-0031"},
            headers=tenant_a.headers,
        )
        assert taken.status_code == 409
        assert taken.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert taken.json()["code"] == "external_id_taken"
        assert [e["field"] for e in taken.json()["errors"]] == ["external_id"]
        taking = await api.patch(
            f"/v1/contacts/{other.json()['id']}",
            json={"external_id": "SF-0031"},
            headers=tenant_a.headers,
        )
        assert taking.status_code == 409
        assert taking.json()["code"] == "external_id_taken"

        # Another tenant's records are another namespace, and invisible.
        theirs = await api.post(
            "/v1/contacts",
            json={"first_name": "Ada", "external_id": "SF-0031"},
            headers=tenant_b.headers,
        )
        assert theirs.status_code == 201, theirs.text
        assert await ids_with(api, tenant_b, "SF-0031") == [theirs.json()["id"]]
        assert await ids_with(api, tenant_a, "SF-0031") == [contact["id"]]

        cleared = await api.patch(path, json={"external_id": ""}, headers=tenant_a.headers)
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["external_id"] is None
        assert await ids_with(api, tenant_a, "SF-0031") == []

    async def test_an_imported_external_id_is_what_the_api_finds_and_guards(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        csv = b"External ID,First Name,Email\ncrm-42,Grace,grace@sync.example\n"
        uploaded = await upload_contacts(api, tenant_a, csv)
        assert uploaded.status_code == 201, uploaded.text
        job = uploaded.json()
        started = await api.post(
            f"/v1/imports/{job['id']}/start",
            json={
                "mapping": job["suggested_mapping"],
                "mode": "upsert",
                "match_key": "external_id",
            },
            headers=tenant_a.headers,
        )
        assert started.status_code == 200, started.text
        assert (await finished(api, tenant_a, job["id"]))["created"] == 1

        [imported] = await ids_with(api, tenant_a, "crm-42")
        read = await api.get(f"/v1/contacts/{imported}", headers=tenant_a.headers)
        assert (read.json()["first_name"], read.json()["external_id"]) == ("Grace", "crm-42")
        taken = await api.post(
            "/v1/contacts",
            json={"first_name": "Copy", "external_id": "crm-42"},
            headers=tenant_a.headers,
        )
        assert taken.status_code == 409
        assert taken.json()["code"] == "external_id_taken"
