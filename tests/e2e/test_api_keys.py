"""API keys through the gateway: created by an owner, used by a third party, revoked."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import httpx
import pytest

from crm.crm_core.v1 import contacts_pb2, contacts_pb2_grpc
from crm.identity.v1 import api_keys_pb2, api_keys_pb2_grpc
from crm_devstack.stack import IDENTITY, SERVICES, Stack
from crm_kit.auth import api_key_format

from .conftest import Account
from .test_slice import create_contact

pytestmark = pytest.mark.e2e

CONTACTS_RW = ["contacts:read", "contacts:write"]
REVOCATION_DEADLINE_SECONDS = 5.0


async def _create_key(
    api: httpx.AsyncClient, owner: Account, scopes: list[str], name: str = "Zapier"
) -> dict[str, Any]:
    response = await api.post(
        "/v1/api-keys", json={"name": name, "scopes": scopes}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class TestUsingAKey:
    async def test_a_key_works_within_its_scopes_only(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        created = await _create_key(api, tenant_a, CONTACTS_RW)
        key = created["key"]
        assert api_key_format.is_well_formed(key)
        assert created["display_prefix"] == key[:8]
        assert created["scopes"] == CONTACTS_RW

        made = await api.post("/v1/contacts", json={"first_name": "Ada"}, headers=_bearer(key))
        listed = await api.get("/v1/contacts", headers=_bearer(key))
        pipelines = await api.get("/v1/pipelines", headers=_bearer(key))
        manage = await api.get("/v1/api-keys", headers=_bearer(key))

        assert made.status_code == 201, made.text
        assert made.json()["created_by"] == created["id"]
        assert listed.status_code == 200
        assert [c["id"] for c in listed.json()["data"]] == [made.json()["id"]]
        assert (pipelines.status_code, pipelines.json()["code"]) == (403, "insufficient_scope")
        assert (manage.status_code, manage.json()["code"]) == (403, "insufficient_scope")

    async def test_a_read_only_key_cannot_write(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        await create_contact(api, tenant_a, first_name="Grace")
        key = (await _create_key(api, tenant_a, ["contacts:read"]))["key"]

        refused = await api.post("/v1/contacts", json={"first_name": "X"}, headers=_bearer(key))
        listed = await api.get("/v1/contacts", headers=_bearer(key))

        assert refused.status_code == 403
        assert refused.json()["code"] == "insufficient_scope"
        assert listed.status_code == 200
        assert [c["first_name"] for c in listed.json()["data"]] == ["Grace"]

    async def test_a_mistyped_or_unknown_key_is_401(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        key = (await _create_key(api, tenant_a, CONTACTS_RW))["key"]
        mistyped = key[:-1] + ("0" if key[-1] != "0" else "1")

        for candidate in (mistyped, api_key_format.generate()):
            response = await api.get("/v1/contacts", headers=_bearer(candidate))
            assert response.status_code == 401
            assert response.json()["code"] == "invalid_api_key"

    async def test_a_key_of_tenant_b_cannot_read_tenant_a(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        contact = await create_contact(api, tenant_a, first_name="Secret")
        key = (await _create_key(api, tenant_b, CONTACTS_RW))["key"]

        read = await api.get(f"/v1/contacts/{contact['id']}", headers=_bearer(key))
        listed = await api.get("/v1/contacts", headers=_bearer(key))

        assert read.status_code == 404
        assert listed.json()["data"] == []


class TestManagingKeys:
    async def test_the_list_shows_prefixes_and_never_the_key(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        created = await _create_key(api, tenant_a, ["pipelines:read"], name="Reporting")
        used = await api.get("/v1/pipelines", headers=_bearer(created["key"]))
        assert used.status_code == 200

        response = await api.get("/v1/api-keys", headers=tenant_a.headers)

        assert response.status_code == 200
        [listed] = response.json()["data"]
        assert listed["id"] == created["id"]
        assert listed["name"] == "Reporting"
        assert listed["display_prefix"] == created["key"][:8]
        assert listed["last_used_at"] is not None
        assert "key" not in listed
        assert created["key"] not in response.text

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": "x", "scopes": ["contacts:delete"]}, "scopes"),
            ({"name": "x", "scopes": []}, "scopes"),
            ({"name": " ", "scopes": CONTACTS_RW}, "name"),
            (
                {"name": "x", "scopes": CONTACTS_RW, "expires_at": "2001-01-01T00:00:00Z"},
                "expires_at",
            ),
            (
                {"name": "x", "scopes": CONTACTS_RW, "expires_at": "2999-01-01T00:00:00"},
                "expires_at",
            ),
        ],
        ids=["unknown-scope", "no-scope", "blank-name", "expired", "naive-time"],
    )
    async def test_bad_input_names_the_field(
        self, api: httpx.AsyncClient, tenant_a: Account, body: dict[str, Any], field: str
    ) -> None:
        response = await api.post("/v1/api-keys", json=body, headers=tenant_a.headers)

        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]

    async def test_an_expiry_in_the_future_is_kept(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        response = await api.post(
            "/v1/api-keys",
            json={"name": "x", "scopes": CONTACTS_RW, "expires_at": "2999-01-01T00:00:00+02:00"},
            headers=tenant_a.headers,
        )

        assert response.status_code == 201
        assert response.json()["expires_at"] == "2998-12-31T22:00:00Z"

    async def test_a_revoked_key_is_refused_within_seconds(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        created = await _create_key(api, tenant_a, CONTACTS_RW)
        key = created["key"]
        assert (await api.get("/v1/contacts", headers=_bearer(key))).status_code == 200

        revoked = await api.delete(f"/v1/api-keys/{created['id']}", headers=tenant_a.headers)
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None

        deadline = time.monotonic() + REVOCATION_DEADLINE_SECONDS
        status = 200
        while status != 401 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            status = (await api.get("/v1/contacts", headers=_bearer(key))).status_code
        assert status == 401

    async def test_another_tenants_key_cannot_be_revoked(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        created = await _create_key(api, tenant_a, CONTACTS_RW)

        response = await api.delete(f"/v1/api-keys/{created['id']}", headers=tenant_b.headers)

        assert response.status_code == 404
        assert (await api.get("/v1/contacts", headers=_bearer(created["key"]))).status_code == 200


class TestScopesInTheServiceItself:
    async def test_a_read_only_keys_internal_token_cannot_write_at_crm_core(
        self, api: httpx.AsyncClient, stack: Stack, tenant_a: Account
    ) -> None:
        key = (await _create_key(api, tenant_a, ["contacts:read"]))["key"]
        async with grpc.aio.insecure_channel(stack.config.address(IDENTITY)) as identity:
            resolved = await api_keys_pb2_grpc.ApiKeyServiceStub(identity).ResolveApiKey(
                api_keys_pb2.ResolveApiKeyRequest(key=key), timeout=10
            )
        metadata = [
            ("authorization", f"Bearer {resolved.access_token}"),
            ("x-tenant-id", tenant_a.tenant_id),
        ]
        crm_core = next(s for s in SERVICES if s.module == "crm_core")
        async with grpc.aio.insecure_channel(stack.config.address(crm_core)) as channel:
            contacts = contacts_pb2_grpc.ContactServiceStub(channel)
            listed = await contacts.ListContacts(
                contacts_pb2.ListContactsRequest(), metadata=metadata, timeout=10
            )
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await contacts.CreateContact(
                    contacts_pb2.CreateContactRequest(first_name="Mallory"),
                    metadata=metadata,
                    timeout=10,
                )
        assert list(listed.contacts) == []
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
