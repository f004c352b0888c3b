"""Roles and own-record visibility, enforced by crm-core, seen through the gateway."""

from __future__ import annotations

import httpx
import pytest

from .conftest import Account
from .test_slice import create_contact
from .test_users import _join

pytestmark = pytest.mark.e2e

OWN_CONTACTS = {"rules": [{"role": "member", "object_type": "contacts", "visibility": "own"}]}


class TestRoles:
    async def test_a_viewer_reads_but_every_write_is_403(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        contact = await create_contact(api, tenant_a, first_name="Ada")
        viewer = await _join(api, tenant_a, role="viewer")
        path = f"/v1/contacts/{contact['id']}"

        read = await api.get(path, headers=viewer.headers)
        writes = [
            await api.post("/v1/contacts", json={"first_name": "X"}, headers=viewer.headers),
            await api.patch(path, json={"first_name": "X"}, headers=viewer.headers),
            await api.delete(path, headers=viewer.headers),
            await api.post(
                "/v1/contacts/bulk",
                json={"operation": "create", "items": [{"first_name": "X"}]},
                headers=viewer.headers,
            ),
        ]
        assert read.status_code == 200
        assert [w.status_code for w in writes] == [403] * 4
        assert {w.json()["code"] for w in writes} == {"role_not_allowed"}
        assert writes[0].headers["content-type"].startswith("application/problem+json")

    async def test_a_member_edits_but_cannot_delete_or_configure(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        member = await _join(api, tenant_a, role="member")
        contact = await create_contact(api, member, first_name="Mine")
        path = f"/v1/contacts/{contact['id']}"

        edited = await api.patch(path, json={"last_name": "Edited"}, headers=member.headers)
        deleted = await api.delete(path, headers=member.headers)
        settings = await api.put(
            "/v1/settings/visibility", json=OWN_CONTACTS, headers=member.headers
        )
        assert edited.status_code == 200
        assert [deleted.status_code, settings.status_code] == [403, 403]
        assert (await api.delete(path, headers=tenant_a.headers)).status_code == 204


class TestOwnVisibility:
    async def test_a_member_sees_only_own_contacts_once_the_rule_says_so(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        alice = await _join(api, tenant_a, role="member")
        bob = await _join(api, tenant_a, role="member")
        bobs = await create_contact(api, bob, first_name="Bobs", email="bobs@example.com")
        path = f"/v1/contacts/{bobs['id']}"
        assert (await api.get(path, headers=alice.headers)).status_code == 200

        changed = await api.put(
            "/v1/settings/visibility", json=OWN_CONTACTS, headers=tenant_a.headers
        )
        assert changed.status_code == 200, changed.text
        assert {"role": "member", "object_type": "contacts", "visibility": "own"} in changed.json()[
            "rules"
        ]

        hidden = await api.get(path, headers=alice.headers)
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "contact_not_found"
        patched = await api.patch(path, json={"first_name": "X"}, headers=alice.headers)
        assert patched.status_code == 404
        listed = (await api.get("/v1/contacts", headers=alice.headers)).json()["data"]
        searched = await api.post(
            "/v1/contacts/search", json={"query": "bobs"}, headers=alice.headers
        )
        assert listed == []
        assert searched.json()["data"] == []
        assert (await api.get(path, headers=bob.headers)).status_code == 200
        assert (await api.get(path, headers=tenant_a.headers)).status_code == 200

    async def test_settings_are_per_tenant_and_not_for_api_keys(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        await api.put("/v1/settings/visibility", json=OWN_CONTACTS, headers=tenant_a.headers)
        theirs = await api.get("/v1/settings/visibility", headers=tenant_b.headers)
        assert theirs.status_code == 200
        assert {r["visibility"] for r in theirs.json()["rules"]} == {"all"}
        bad = await api.put(
            "/v1/settings/visibility",
            json={"rules": [{"role": "admin", "object_type": "contacts", "visibility": "own"}]},
            headers=tenant_a.headers,
        )
        assert bad.status_code == 422
