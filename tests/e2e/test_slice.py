"""The foundation slice through the gateway: signup, login, pipelines, contacts."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from .conftest import PASSWORD, Account

pytestmark = pytest.mark.e2e


async def create_contact(
    api: httpx.AsyncClient, account: Account, **fields: str
) -> dict[str, object]:
    response = await api.post("/v1/contacts", json=fields, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


class TestAuth:
    async def test_login_and_refresh(self, api: httpx.AsyncClient, tenant_a: Account) -> None:
        login = await api.post(
            "/v1/auth/login", json={"email": tenant_a.email.upper(), "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        assert login.json()["tenant_id"] == tenant_a.tenant_id
        refreshed = await api.post(
            "/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
        )
        assert refreshed.status_code == 200
        replayed = await api.post(
            "/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
        )
        assert replayed.status_code == 401
        assert replayed.headers["content-type"] == "application/problem+json"

    async def test_wrong_password_is_a_uniform_401(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        wrong = await api.post(
            "/v1/auth/login", json={"email": tenant_a.email, "password": "not the password"}
        )
        unknown = await api.post(
            "/v1/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["detail"] == unknown.json()["detail"]

    async def test_jwks_is_published(self, api: httpx.AsyncClient) -> None:
        keys = (await api.get("/.well-known/jwks.json")).json()["keys"]
        assert keys
        assert all(k["alg"] == "ES256" for k in keys)
        assert not any("d" in k for k in keys), "a private key part is published"


class TestDefaultPipeline:
    async def test_tenant_created_event_gives_the_tenant_a_pipeline(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        pipelines: list[dict[str, object]] = []
        for _ in range(100):
            response = await api.get("/v1/pipelines", headers=tenant_a.headers)
            assert response.status_code == 200
            pipelines = response.json()["data"]
            if pipelines:
                break
            await asyncio.sleep(0.1)
        assert [p["name"] for p in pipelines] == ["Sales"]
        stages = pipelines[0]["stages"]
        assert isinstance(stages, list)
        assert [s["position"] for s in stages] == list(range(len(stages)))
        assert stages[0]["name"] == "Qualification"


class TestContacts:
    async def test_create_get_update_delete(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        created = await api.post(
            "/v1/contacts",
            json={"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.example"},
            headers=tenant_a.headers,
        )
        assert created.status_code == 201
        contact = created.json()
        assert created.headers["location"] == f"/v1/contacts/{contact['id']}"
        assert contact["owner_id"] == contact["created_by"] == tenant_a.user_id

        fetched = await api.get(f"/v1/contacts/{contact['id']}", headers=tenant_a.headers)
        assert fetched.json() == contact
        etag = fetched.headers["etag"]

        updated = await api.patch(
            f"/v1/contacts/{contact['id']}",
            json={"phone": "+1 555 0100"},
            headers={**tenant_a.headers, "If-Match": etag},
        )
        assert updated.status_code == 200
        assert updated.json()["phone"] == "+1 555 0100"
        assert updated.json()["version"] == 2

        stale = await api.patch(
            f"/v1/contacts/{contact['id']}",
            json={"phone": "+1 555 0199"},
            headers={**tenant_a.headers, "If-Match": etag},
        )
        assert stale.status_code == 412
        assert stale.json()["code"] == "version_mismatch"

        deleted = await api.delete(f"/v1/contacts/{contact['id']}", headers=tenant_a.headers)
        assert deleted.status_code == 204
        gone = await api.get(f"/v1/contacts/{contact['id']}", headers=tenant_a.headers)
        assert gone.status_code == 404
        assert gone.json()["code"] == "contact_not_found"

    async def test_cursor_pagination_visits_every_contact_once(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        created = [
            (await create_contact(api, tenant_a, first_name=f"C{i}"))["id"] for i in range(5)
        ]
        seen: list[object] = []
        cursor = None
        while True:
            params: dict[str, str | int] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await api.get("/v1/contacts", params=params, headers=tenant_a.headers)).json()
            seen += [c["id"] for c in page["data"]]
            # A contact added mid-walk lands after the cursor, never shifts what was seen.
            if len(seen) == 2:
                created.append((await create_contact(api, tenant_a, first_name="Late"))["id"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == created

    async def test_invalid_input_is_a_422_naming_the_field(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        response = await api.post(
            "/v1/contacts", json={"email": "not-an-email"}, headers=tenant_a.headers
        )
        assert response.status_code == 422
        problem = response.json()
        assert problem["code"] == "invalid_email"
        assert problem["errors"][0]["field"] == "email"
        listed = (await api.get("/v1/contacts", headers=tenant_a.headers)).json()["data"]
        assert listed == []
