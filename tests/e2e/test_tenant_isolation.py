"""Another tenant's contact answers 404 on every route and never shows in a list."""

from __future__ import annotations

import httpx
import pytest

from .conftest import Account
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
