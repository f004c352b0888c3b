"""Files on records through the gateway: upload, list, download, and gone with the record."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from .conftest import Account
from .test_slice import create_contact

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 300


class TestFiles:
    async def test_upload_list_download_then_gone_with_the_record(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        contact = await create_contact(api, tenant_a, first_name="Ada", email="ada@f.example")
        files_path = f"/v1/contacts/{contact['id']}/files"
        uploaded = await api.post(
            files_path,
            files={"file": ('re"port\r\n.exe', PDF, "image/gif")},
            headers=tenant_a.headers,
        )
        assert uploaded.status_code == 201, uploaded.text
        stored = uploaded.json()
        assert stored["content_type"] == "application/pdf"
        assert stored["size_bytes"] == len(PDF)
        assert stored["sha256"] == hashlib.sha256(PDF).hexdigest()

        listed = await api.get(files_path, headers=tenant_a.headers)
        assert [f["id"] for f in listed.json()["data"]] == [stored["id"]]

        downloaded = await api.get(f"/v1/files/{stored['id']}", headers=tenant_a.headers)
        assert downloaded.status_code == 200
        assert downloaded.content == PDF
        assert downloaded.headers["content-type"] == "application/pdf"
        assert downloaded.headers["x-content-type-options"] == "nosniff"
        assert downloaded.headers["content-disposition"].startswith("attachment;")
        assert "\r" not in downloaded.headers["content-disposition"]

        other = await api.get(f"/v1/files/{stored['id']}", headers=tenant_b.headers)
        assert other.status_code == 404

        deleted = await api.delete(f"/v1/contacts/{contact['id']}", headers=tenant_a.headers)
        assert deleted.status_code == 204
        gone = await api.get(f"/v1/files/{stored['id']}", headers=tenant_a.headers)
        assert gone.status_code == 404
