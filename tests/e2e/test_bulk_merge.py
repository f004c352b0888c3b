"""Bulk writes and merges through the gateway."""

from __future__ import annotations

import httpx
import pytest

from .conftest import Account
from .test_records import post
from .test_slice import create_contact
from .test_users import _join

pytestmark = pytest.mark.e2e


async def bulk(api: httpx.AsyncClient, account: Account, kind: str, body: object) -> httpx.Response:
    return await api.post(f"/v1/{kind}/bulk", json=body, headers=account.headers)


def outcomes(response: httpx.Response) -> list[tuple[str, int | None, str | None]]:
    assert response.status_code == 200, response.text
    return [
        (r["status"], (r["error"] or {}).get("status"), (r["error"] or {}).get("code"))
        for r in response.json()["results"]
    ]


class TestBulk:
    async def test_create_applies_good_items_and_reports_bad_ones(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        items = [
            {"first_name": "One", "email": "one@bulk.example"},
            {"first_name": 42},
            {"first_name": "Dup", "email": "ONE@bulk.example"},
            {"first_name": "Two", "email": "two@bulk.example"},
        ]
        response = await bulk(api, tenant_a, "contacts", {"operation": "create", "items": items})

        assert outcomes(response) == [
            ("ok", None, None),
            ("error", 422, "validation_failed"),
            ("error", 409, "duplicate_contact"),
            ("ok", None, None),
        ]
        listed = (await api.get("/v1/contacts", headers=tenant_a.headers)).json()["data"]
        assert sorted(c["first_name"] for c in listed) == ["One", "Two"]

    async def test_update_with_versions_and_delete(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        company = await post(api, tenant_a, "/v1/companies", {"name": "Acme"})
        items = [
            {"id": company["id"], "version": company["version"], "industry": "Retail"},
            {"id": company["id"], "version": company["version"], "industry": "Stale"},
            {"id": "00000000-0000-0000-0000-000000000000", "industry": "Nobody"},
        ]
        updated = await bulk(api, tenant_a, "companies", {"operation": "update", "items": items})
        assert outcomes(updated) == [
            ("ok", None, None),
            ("error", 412, "version_mismatch"),
            ("error", 404, "company_not_found"),
        ]
        path = f"/v1/companies/{company['id']}"
        assert (await api.get(path, headers=tenant_a.headers)).json()["industry"] == "Retail"

        deleted = await bulk(
            api, tenant_a, "companies", {"operation": "delete", "items": [{"id": company["id"]}]}
        )
        assert outcomes(deleted) == [("ok", None, None)]
        assert (await api.get(path, headers=tenant_a.headers)).status_code == 404

    async def test_more_than_a_hundred_items_is_422(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        items = [{"first_name": f"N{i}"} for i in range(101)]
        response = await bulk(api, tenant_a, "leads", {"operation": "create", "items": items})
        assert response.status_code == 422


class TestMerge:
    async def test_merging_contacts_moves_links_and_leaves_a_pointer(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        company = await post(api, tenant_a, "/v1/companies", {"name": "Acme"})
        survivor = await create_contact(api, tenant_a, first_name="Ada", email="ada@m.example")
        merged = await post(
            api,
            tenant_a,
            "/v1/contacts",
            {"first_name": "Ada", "last_name": "Lovelace", "company_ids": [company["id"]]},
        )
        response = await api.post(
            f"/v1/contacts/{survivor['id']}/merge",
            json={"merged_id": merged["id"]},
            headers=tenant_a.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["company_ids"] == [company["id"]]
        assert response.json()["last_name"] == "Lovelace"

        gone = await api.get(f"/v1/contacts/{merged['id']}", headers=tenant_a.headers)
        assert gone.status_code == 404
        assert (gone.json()["code"], gone.json()["survivor_id"], gone.json()["survivor_url"]) == (
            "merged",
            survivor["id"],
            f"/v1/contacts/{survivor['id']}",
        )

    async def test_refusals(self, api: httpx.AsyncClient, tenant_a: Account) -> None:
        one = await post(api, tenant_a, "/v1/companies", {"name": "One"})
        two = await post(api, tenant_a, "/v1/companies", {"name": "Two"})
        contact = await create_contact(api, tenant_a, first_name="C")
        member = await _join(api, tenant_a, role="member")

        async def merge(account: Account, survivor: object, merged: object) -> httpx.Response:
            return await api.post(
                f"/v1/companies/{survivor}/merge",
                json={"merged_id": merged},
                headers=account.headers,
            )

        by_member = await merge(member, one["id"], two["id"])
        itself = await merge(tenant_a, one["id"], one["id"])
        across = await merge(tenant_a, one["id"], contact["id"])
        done = await merge(tenant_a, one["id"], two["id"])
        again = await merge(tenant_a, one["id"], two["id"])
        assert [r.status_code for r in (by_member, itself, across, done, again)] == [
            403,
            422,
            422,
            200,
            409,
        ]
        assert [r.json()["code"] for r in (itself, across, again)] == [
            "merge_into_itself",
            "object_type_mismatch",
            "already_merged",
        ]


class TestCrossTenant:
    async def test_tenant_b_cannot_bulk_or_merge_tenant_a_records(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        first = await create_contact(api, tenant_a, first_name="A1")
        second = await create_contact(api, tenant_a, first_name="A2")
        ids = [{"id": first["id"]}, {"id": second["id"]}]
        updates = [{**i, "first_name": "Pwned"} for i in ids]

        touched = [
            await bulk(api, tenant_b, "contacts", {"operation": "update", "items": updates}),
            await bulk(api, tenant_b, "contacts", {"operation": "delete", "items": ids}),
        ]
        merge = await api.post(
            f"/v1/contacts/{first['id']}/merge",
            json={"merged_id": second["id"]},
            headers=tenant_b.headers,
        )
        for response in touched:
            assert outcomes(response) == [("error", 404, "contact_not_found")] * 2
        assert merge.status_code == 404

        await api.post(
            f"/v1/contacts/{first['id']}/merge",
            json={"merged_id": second["id"]},
            headers=tenant_a.headers,
        )
        pointer = await api.get(f"/v1/contacts/{second['id']}", headers=tenant_b.headers)
        assert pointer.status_code == 404
        assert pointer.json()["code"] == "contact_not_found"  # no pointer leaks across tenants
        intact = await api.get(f"/v1/contacts/{first['id']}", headers=tenant_a.headers)
        assert intact.json()["first_name"] == "A1"
