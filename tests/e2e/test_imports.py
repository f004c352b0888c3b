"""A CSV import through the whole stack: upload, mapping, the worker in crm-core, progress,
the error report, and records that search finds like any other."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from .conftest import Account
from .test_slice import create_contact

pytestmark = pytest.mark.e2e

CSV = (
    "\ufeffVorname;Last Name;E-mail;Phone\r\n"
    'Ada;"Lovelace; Countess";ada@import.example;+44 20 7946 0958\r\n'
    "Bad;Row;not-an-email;\r\n"
    "Grace;Hopper;grace@import.example;\r\n"
).encode()


async def finished(api: httpx.AsyncClient, account: Account, import_id: str) -> dict[str, Any]:
    for _ in range(200):
        response = await api.get(f"/v1/imports/{import_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["state"] in ("completed", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"import {import_id} did not finish: {job}")


async def upload_contacts(api: httpx.AsyncClient, account: Account, data: bytes) -> httpx.Response:
    """Uploads a CSV of contacts (`POST /v1/imports`); the answer says what it found."""
    return await api.post(
        "/v1/imports",
        data={"object_type": "contacts"},
        files={"file": ("people.csv", data, "text/csv")},
        headers=account.headers,
    )


class TestImports:
    async def test_upload_map_run_report_and_find(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        existing = await create_contact(
            api, tenant_a, first_name="Old", email="grace@import.example"
        )
        uploaded = await upload_contacts(api, tenant_a, CSV)
        assert uploaded.status_code == 201, uploaded.text
        job = uploaded.json()
        assert uploaded.headers["location"] == f"/v1/imports/{job['id']}"
        assert (job["state"], job["delimiter"]) == ("awaiting_mapping", ";")
        assert job["suggested_mapping"] == {
            "Vorname": "first_name",
            "Last Name": "last_name",
            "E-mail": "email",
            "Phone": "phone",
        }
        assert job["preview"][0] == [
            "Ada",
            "Lovelace; Countess",
            "ada@import.example",
            "+44 20 7946 0958",
        ]

        refused = await api.post(
            f"/v1/imports/{job['id']}/start",
            json={"mapping": {"E-mail": "email"}, "mode": "update", "match_key": "phone"},
            headers=tenant_a.headers,
        )
        assert refused.status_code == 422
        assert refused.json()["code"] == "invalid_match_key"

        started = await api.post(
            f"/v1/imports/{job['id']}/start",
            json={"mapping": job["suggested_mapping"], "mode": "upsert", "match_key": "email"},
            headers=tenant_a.headers,
        )
        assert started.status_code == 200, started.text
        assert started.json()["state"] == "queued"

        assert (
            await api.get(f"/v1/imports/{job['id']}", headers=tenant_b.headers)
        ).status_code == 404
        done = await finished(api, tenant_a, job["id"])
        assert {
            k: done[k] for k in ("state", "rows_total", "rows_done", "created", "updated", "failed")
        } == {
            "state": "completed",
            "rows_total": 3,
            "rows_done": 3,
            "created": 1,
            "updated": 1,
            "failed": 1,
        }

        report = await api.get(f"/v1/imports/{job['id']}/errors.csv", headers=tenant_a.headers)
        assert report.status_code == 200
        assert report.headers["content-type"].startswith("text/csv")
        lines = report.text.splitlines()
        assert lines[0] == "row,column,reason"
        assert lines[1].startswith("3,E-mail,")
        assert len(lines) == 2
        other = await api.get(f"/v1/imports/{job['id']}/errors.csv", headers=tenant_b.headers)
        assert other.status_code == 404

        grace = await api.get(f"/v1/contacts/{existing['id']}", headers=tenant_a.headers)
        assert (grace.json()["first_name"], grace.json()["last_name"]) == ("Grace", "Hopper")
        found = await api.get("/v1/contacts", params={"q": "countess"}, headers=tenant_a.headers)
        assert [c["email"] for c in found.json()["data"]] == ["ada@import.example"]
        assert (
            await api.get("/v1/contacts", params={"q": "countess"}, headers=tenant_b.headers)
        ).json()["data"] == []

        listed = await api.get("/v1/imports", headers=tenant_a.headers)
        assert [j["id"] for j in listed.json()["data"]] == [job["id"]]
        assert (await api.get("/v1/imports", headers=tenant_b.headers)).json()["data"] == []

        again = await api.post(f"/v1/imports/{job['id']}/cancel", headers=tenant_a.headers)
        assert again.status_code == 409
        assert again.json()["code"] == "import_finished"

    async def test_a_job_waiting_for_its_mapping_can_be_cancelled(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        uploaded = await api.post(
            "/v1/imports",
            data={"object_type": "companies"},
            files={"file": ("c.csv", b"Company,Website\nAcme,acme.example\n", "text/csv")},
            headers=tenant_a.headers,
        )
        assert uploaded.status_code == 201, uploaded.text
        cancelled = await api.post(
            f"/v1/imports/{uploaded.json()['id']}/cancel", headers=tenant_a.headers
        )
        assert cancelled.status_code == 200
        assert cancelled.json()["state"] == "cancelled"
        start = await api.post(
            f"/v1/imports/{uploaded.json()['id']}/start",
            json={"mapping": {"Company": "name"}},
            headers=tenant_a.headers,
        )
        assert start.status_code == 409
