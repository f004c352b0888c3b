"""Request text that could not travel on (to protobuf or PostgreSQL) is a 422, not a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from crm_gateway.problems import PROBLEM_MEDIA_TYPE
from crm_gateway.schemas import ApiModel

pytestmark = pytest.mark.unit

# JSON may escape a lone UTF-16 surrogate; json.loads turns it into a str that no
# UTF-8 encoder (protobuf's included) accepts.
LONE_SURROGATE_LOGIN = b'{"email": "ada@acme.example", "password": "pass\\ud800word"}'


class Nested(ApiModel):
    tags: list[str]
    values: dict[str, Any]


class TestRequestText:
    async def test_a_lone_surrogate_is_a_422_naming_the_field(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/v1/auth/login",
            content=LONE_SURROGATE_LOGIN,
            headers={"content-type": "application/json"},
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        fields = [error["field"] for error in response.json()["errors"]]
        assert fields == ["password"]

    @pytest.mark.parametrize(
        "payload",
        [
            {"tags": ["ok", "\ud800"], "values": {}},
            {"tags": [], "values": {"key": {"deep": ["\udfff"]}}},
            {"tags": [], "values": {"\ud800": 1}},
            {"tags": ["nul\x00"], "values": {}},
        ],
    )
    def test_nested_values_are_checked_too(self, payload: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            Nested.model_validate(payload)

    def test_ordinary_unicode_passes(self) -> None:
        model = Nested.model_validate({"tags": ["Zoë", "日本", "🙂"], "values": {"k": ["é"]}})

        assert model.tags == ["Zoë", "日本", "🙂"]
