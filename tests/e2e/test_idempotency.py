"""Idempotency-Key through the real stack: keys kept in Redis, contacts in crm-core."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from .conftest import Account

pytestmark = pytest.mark.e2e

GRACE = {"first_name": "Grace", "last_name": "Hopper"}


def keyed(account: Account, key: str) -> dict[str, str]:
    return {**account.headers, "Idempotency-Key": key}


async def contact_ids(api: httpx.AsyncClient, account: Account) -> list[str]:
    response = await api.get("/v1/contacts", headers=account.headers)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["data"]]


class TestIdempotentCreate:
    async def test_a_retried_create_makes_one_contact(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        headers = keyed(tenant_a, str(uuid.uuid4()))

        first = await api.post("/v1/contacts", json=GRACE, headers=headers)
        retry = await api.post("/v1/contacts", json=GRACE, headers=headers)

        assert (first.status_code, retry.status_code) == (201, 201), retry.text
        assert retry.json()["id"] == first.json()["id"]
        assert retry.headers["location"] == first.headers["location"]
        assert retry.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert await contact_ids(api, tenant_a) == [first.json()["id"]]

    async def test_the_same_key_with_another_body_is_422(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        headers = keyed(tenant_a, str(uuid.uuid4()))
        first = await api.post("/v1/contacts", json=GRACE, headers=headers)

        reused = await api.post(
            "/v1/contacts", json={**GRACE, "first_name": "Ada"}, headers=headers
        )

        assert first.status_code == 201
        assert reused.status_code == 422
        assert reused.headers["content-type"] == "application/problem+json"
        assert reused.json()["code"] == "idempotency_key_reused"
        assert await contact_ids(api, tenant_a) == [first.json()["id"]]

    async def test_concurrent_duplicates_run_once(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        headers = keyed(tenant_a, str(uuid.uuid4()))

        responses = await asyncio.gather(
            *(api.post("/v1/contacts", json=GRACE, headers=headers) for _ in range(2))
        )

        created = [r for r in responses if r.status_code == 201]
        others = [r for r in responses if r.status_code != 201]
        assert created, [r.text for r in responses]
        for response in others:
            assert response.status_code == 409, response.text
            assert response.json()["code"] == "idempotency_in_progress"
            assert response.headers["retry-after"] == "1"
        assert len({r.json()["id"] for r in created}) == 1
        assert await contact_ids(api, tenant_a) == [created[0].json()["id"]]

    async def test_tenants_sending_the_same_key_get_their_own_contacts(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        key = str(uuid.uuid4())

        a = await api.post("/v1/contacts", json=GRACE, headers=keyed(tenant_a, key))
        b = await api.post("/v1/contacts", json=GRACE, headers=keyed(tenant_b, key))

        assert (a.status_code, b.status_code) == (201, 201)
        assert "idempotent-replayed" not in b.headers
        assert await contact_ids(api, tenant_b) == [b.json()["id"]]
        assert a.json()["id"] != b.json()["id"]
