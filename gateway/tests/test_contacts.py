"""Contact routes validate their input before calling crm-core."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from crm_gateway.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.unit

TokenFactory = Callable[..., str]


class TestCreateContactValidation:
    @pytest.mark.parametrize(
        ("body", "field", "code"),
        [
            pytest.param({"first_name": 5}, "first_name", "string_type", id="wrong-type"),
            pytest.param({"nickname": "Amazing"}, "nickname", "extra_forbidden", id="unknown"),
            pytest.param({"phone": "1" * 51}, "phone", "string_too_long", id="too-long"),
        ],
    )
    async def test_invalid_body_is_422_listing_the_field(
        self,
        client: httpx.AsyncClient,
        mint_token: TokenFactory,
        body: dict[str, Any],
        field: str,
        code: str,
    ) -> None:
        response = await client.post(
            "/v1/contacts", json=body, headers={"Authorization": f"Bearer {mint_token()}"}
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        problem = response.json()
        assert problem["code"] == "validation_failed"
        assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]

    async def test_malformed_json_is_422(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        response = await client.post(
            "/v1/contacts",
            content=b'{"first_name": ',
            headers={
                "Authorization": f"Bearer {mint_token()}",
                "Content-Type": "application/json",
            },
        )

        assert response.status_code == 422
        assert response.json()["code"] == "validation_failed"

    @pytest.mark.parametrize("limit", ["0", "101", "many"])
    async def test_list_limit_out_of_range_is_422(
        self, client: httpx.AsyncClient, mint_token: TokenFactory, limit: str
    ) -> None:
        response = await client.get(
            "/v1/contacts",
            params={"limit": limit},
            headers={"Authorization": f"Bearer {mint_token()}"},
        )

        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["query.limit"]


class TestUpstreamUnavailable:
    async def test_valid_create_reaches_crm_core_and_is_503(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        response = await client.post(
            "/v1/contacts",
            json={"first_name": "Grace"},
            headers={"Authorization": f"Bearer {mint_token()}"},
        )

        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"
        assert response.json()["detail"] == "a service is unavailable; retry shortly"

    async def test_malformed_if_match_is_412_before_any_upstream_call(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        response = await client.patch(
            "/v1/contacts/0b5e0c3e-0000-4000-8000-000000000001",
            json={"first_name": "Grace"},
            headers={"Authorization": f"Bearer {mint_token()}", "If-Match": "not-an-etag"},
        )

        assert response.status_code == 412
        assert response.json()["code"] == "invalid_if_match"
