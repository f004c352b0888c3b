"""Import routes refuse what they cannot take before any upstream call, and map the
job's progress faithfully."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from crm.crm_core.v1 import imports_pb2
from crm_gateway.routes.imports import to_import
from crm_kit.timestamps import to_timestamp

from .conftest import TokenFactory, gateway_settings

pytestmark = pytest.mark.unit


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestUploadBody:
    async def test_an_upload_that_is_not_multipart_is_415(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        response = await client.post(
            "/v1/imports",
            content=b'{"object_type": "contacts"}',
            headers={**bearer(mint_token()), "Content-Type": "application/json"},
        )
        assert response.status_code == 415
        assert response.json()["code"] == "unsupported_media_type"

    async def test_an_upload_past_the_import_limit_is_413(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        limit = gateway_settings().max_import_bytes
        response = await client.post(
            "/v1/imports",
            content=b"x",
            headers={
                **bearer(mint_token()),
                "Content-Type": "multipart/form-data; boundary=x",
                "Content-Length": str(limit + 1024 * 1024),
            },
        )
        assert response.status_code == 413
        assert response.json()["code"] == "body_too_large"

    async def test_an_unknown_object_type_is_422_naming_it(
        self, client: httpx.AsyncClient, mint_token: TokenFactory
    ) -> None:
        response = await client.post(
            "/v1/imports",
            data={"object_type": "invoices"},
            files={"file": ("a.csv", b"email\na@x.example\n", "text/csv")},
            headers=bearer(mint_token()),
        )
        assert response.status_code == 422
        assert "object_type" in response.text


class TestStartBody:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"mapping": {"E-mail": "email"}, "mode": "merge"}, "mode"),
            ({"mapping": {"E-mail": 3}}, "mapping"),
            ({"mapping": {}, "surprise": 1}, "surprise"),
        ],
    )
    async def test_a_malformed_start_is_422_before_crm_core(
        self, client: httpx.AsyncClient, mint_token: TokenFactory, body: object, field: str
    ) -> None:
        response = await client.post(
            "/v1/imports/0c6f9a43-68c4-4a5e-9d6c-1b2b0f3f1c11/start",
            json=body,
            headers=bearer(mint_token()),
        )
        assert response.status_code == 422
        assert field in response.text


class TestProgress:
    def test_unset_optional_values_read_as_null_and_set_ones_carry_over(self) -> None:
        message = imports_pb2.ImportJob(
            id="j",
            object_type="contacts",
            state="running",
            filename="people.csv",
            size_bytes=10,
            delimiter=";",
            columns=["E-mail"],
            suggested_mapping={"E-mail": "email"},
            preview=[imports_pb2.PreviewRow(cells=["a@x.example"])],
            mapping={"E-mail": "email"},
            mode="upsert",
            match_key="email",
            rows_done=0,
            created=0,
        )
        message.created_at.CopyFrom(to_timestamp(datetime.now(UTC)))
        job = to_import(message)
        assert (job.rows_total, job.started_at, job.finished_at, job.error) == (
            None,
            None,
            None,
            None,
        )
        message.rows_total = 0
        assert to_import(message).rows_total == 0
        assert job.preview == [["a@x.example"]]
