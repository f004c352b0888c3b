"""A CSV export through the whole stack: queued, run by crm-core's worker, downloaded
through its expiring link without the bearer token, and invisible to other tenants."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import httpx
import pytest

from .conftest import Account
from .test_records import post
from .test_slice import create_contact

pytestmark = pytest.mark.e2e


async def finished(api: httpx.AsyncClient, account: Account, location: str) -> dict[str, Any]:
    for _ in range(300):
        response = await api.get(location, headers=account.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["state"] in ("completed", "failed"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"the export did not finish: {body}")


async def exported_rows(
    api: httpx.AsyncClient, account: Account, body: dict[str, Any]
) -> list[dict[str, str]]:
    """Queues the export, waits for it and reads its file through the download link."""
    queued = await api.post("/v1/exports", json=body, headers=account.headers)
    assert queued.status_code == 202, queued.text
    job = await finished(api, account, queued.headers["location"])
    assert job["state"] == "completed", job
    downloaded = await api.get(job["download_url"])
    assert downloaded.status_code == 200, downloaded.text
    return list(csv.DictReader(io.StringIO(downloaded.text, newline="")))


class TestExports:
    async def test_export_then_download_through_the_link(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        await create_contact(api, tenant_a, first_name="=HYPERLINK(1)", email="eve@e.example")
        await create_contact(api, tenant_a, first_name="Ada", email="ada@a.example")
        await create_contact(api, tenant_b, first_name="Other", email="other@e.example")

        queued = await api.post(
            "/v1/exports",
            json={
                "object_type": "contacts",
                "filter": ["email:contains:e.example"],
                "columns": ["first_name", "email", "created_at"],
            },
            headers=tenant_a.headers,
        )
        assert queued.status_code == 202, queued.text
        assert queued.json()["state"] == "queued"
        assert queued.json()["download_url"] is None
        job = await finished(api, tenant_a, queued.headers["location"])
        assert job["state"] == "completed", job
        assert job["rows_written"] == 1

        downloaded = await api.get(job["download_url"])

        assert downloaded.status_code == 200, downloaded.text
        assert downloaded.headers["content-type"] == "text/csv; charset=utf-8"
        assert downloaded.headers["content-disposition"].startswith("attachment;")
        assert downloaded.headers["cache-control"] == "no-store"
        rows = list(csv.DictReader(io.StringIO(downloaded.text, newline="")))
        assert [(r["first_name"], r["email"]) for r in rows] == [
            ("'=HYPERLINK(1)", "eve@e.example")
        ]
        assert rows[0]["created_at"].endswith("Z")

        other = await api.get(queued.headers["location"], headers=tenant_b.headers)
        assert other.status_code == 404
        listed = await api.get("/v1/exports", headers=tenant_b.headers)
        assert listed.status_code == 200
        assert listed.json()["data"] == []
        token = job["download_url"].split("token=")[1]
        tampered = await api.get(
            job["download_url"].replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
        )
        assert tampered.status_code == 404
        assert tampered.json()["code"] == "export_not_found"

    async def test_a_bad_filter_is_422_naming_it(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        refused = await api.post(
            "/v1/exports",
            json={"object_type": "contacts", "filter": ["shoe_size:eq:9"]},
            headers=tenant_a.headers,
        )

        assert refused.status_code == 422
        assert refused.json()["code"] == "unknown_field"


class TestItemExports:
    async def test_tasks_by_status_and_the_notes_of_one_record(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        ada = await create_contact(api, tenant_a, first_name="Ada", email="ada@i.example")
        bob = await create_contact(api, tenant_a, first_name="Bob", email="bob@i.example")
        on_ada = [{"record_type": "contacts", "record_id": str(ada["id"])}]
        on_bob = [{"record_type": "contacts", "record_id": str(bob["id"])}]
        for title, status, due in (
            ("=Call back", "open", "2026-08-02T09:00:00Z"),
            ("Send deck", "in_progress", "2026-08-01T09:00:00Z"),
            ("Closed", "done", "2026-07-01T09:00:00Z"),
        ):
            await post(
                api, tenant_a, "/v1/tasks",
                {"title": title, "status": status, "due_at": due, "records": on_ada},
            )  # fmt: skip
        note = await post(
            api, tenant_a, "/v1/notes", {"body_html": "<p>Met Ada</p>", "records": on_ada}
        )
        await post(api, tenant_a, "/v1/notes", {"body_html": "<p>Bob</p>", "records": on_bob})
        await post(api, tenant_b, "/v1/tasks", {"title": "Theirs", "status": "open"})

        tasks = await exported_rows(
            api,
            tenant_a,
            {
                "object_type": "tasks",
                "items": {"status": ["open", "in_progress"]},
                "columns": ["title", "status", "due_at", "records"],
            },
        )
        notes = await exported_rows(
            api,
            tenant_a,
            {"object_type": "notes", "items": {"record": f"contacts:{ada['id']}"}},
        )

        assert tasks == [
            {
                "title": "Send deck",
                "status": "in_progress",
                "due_at": "2026-08-01T09:00:00.000000Z",
                "records": f"contacts:{ada['id']}",
            },
            {
                "title": "'=Call back",
                "status": "open",
                "due_at": "2026-08-02T09:00:00.000000Z",
                "records": f"contacts:{ada['id']}",
            },
        ]
        assert [(n["id"], n["body_html"], n["records"]) for n in notes] == [
            (note["id"], "<p>Met Ada</p>", f"contacts:{ada['id']}")
        ]

    async def test_item_filters_of_the_wrong_kind_are_422_naming_the_field(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        for body, field in (
            ({"object_type": "notes", "items": {"status": ["open"]}}, "items.status"),
            ({"object_type": "tasks", "filter": ["title:eq:x"]}, "filter"),
            ({"object_type": "contacts", "filter": ["nope:eq:x"]}, "filter[0].field"),
            ({"object_type": "contacts", "items": {}}, "items"),
            ({"object_type": "notes", "items": {"record": "nope"}}, "items.record"),
        ):
            refused = await api.post("/v1/exports", json=body, headers=tenant_a.headers)

            assert refused.status_code == 422, refused.text
            assert [e["field"] for e in refused.json()["errors"]] == [field]
