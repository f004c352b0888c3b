"""Activities, tasks, notes, tags and the record timeline through the gateway, and
another tenant's 404 on every one of their routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import Account
from .test_pipelines_deals_leads import create_deal, create_pipeline
from .test_records import post
from .test_slice import create_contact

pytestmark = pytest.mark.e2e


def _ref(record_type: str, record: dict[str, Any]) -> dict[str, str]:
    return {"record_type": record_type, "record_id": str(record["id"])}


class TestItemsAndTimeline:
    async def test_notes_tasks_activities_and_field_changes_show_newest_first(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        contact = await create_contact(api, tenant_a, first_name="Ada", email="ada@t.example")
        ref = _ref("contacts", contact)
        note = await post(
            api,
            tenant_a,
            "/v1/notes",
            {"body_html": '<p onclick="x()">Hi<script>alert(1)</script></p>', "records": [ref]},
        )
        assert note["body_html"] == "<p>Hi</p>"
        renamed = await api.patch(
            f"/v1/contacts/{contact['id']}",
            json={"first_name": "Grace"},
            headers=tenant_a.headers,
        )
        assert renamed.status_code == 200, renamed.text
        await post(
            api,
            tenant_a,
            "/v1/tasks",
            {"title": "Follow up", "due_at": "2030-01-01T09:00:00Z", "records": [ref]},
        )
        await post(
            api, tenant_a, "/v1/activities", {"kind": "call", "subject": "Intro", "records": [ref]}
        )
        path = f"/v1/contacts/{contact['id']}/timeline"
        feed = await api.get(path, headers=tenant_a.headers)
        assert feed.status_code == 200, feed.text
        entries = feed.json()["data"]
        assert [e["type"] for e in entries] == ["activity", "task", "field_change", "note"]
        assert entries[2]["payload"] == {"changes": {"first_name": ["Ada", "Grace"]}}
        assert entries[2]["actor_id"] == tenant_a.user_id
        first = (await api.get(path, params={"limit": 2}, headers=tenant_a.headers)).json()
        rest = await api.get(
            path, params={"limit": 2, "cursor": first["next_cursor"]}, headers=tenant_a.headers
        )
        assert [e["id"] for e in first["data"] + rest.json()["data"]] == [e["id"] for e in entries]

    async def test_deal_timeline_has_stage_moves(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        pipeline = await create_pipeline(api, tenant_a)
        deal = await create_deal(api, tenant_a, pipeline)
        moved = await api.post(
            f"/v1/deals/{deal['id']}/move",
            json={"stage_id": pipeline["stages"][1]["id"]},
            headers=tenant_a.headers,
        )
        assert moved.status_code == 200
        feed = (await api.get(f"/v1/deals/{deal['id']}/timeline", headers=tenant_a.headers)).json()
        moves = [e for e in feed["data"] if e["type"] == "stage_move"]
        assert moves[0]["payload"]["to_stage_id"] == pipeline["stages"][1]["id"]

    async def test_task_filters_if_match_and_record_filter(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        contact = await create_contact(api, tenant_a, first_name="T", email="t@t.example")
        ref = _ref("contacts", contact)
        task = await post(api, tenant_a, "/v1/tasks", {"title": "A", "records": [ref]})
        await post(api, tenant_a, "/v1/tasks", {"title": "B", "status": "done"})
        path = f"/v1/tasks/{task['id']}"
        stale = await api.patch(
            path, json={"status": "done"}, headers={**tenant_a.headers, "If-Match": '"7"'}
        )
        assert stale.status_code == 412
        done = await api.patch(
            path, json={"status": "done"}, headers={**tenant_a.headers, "If-Match": '"1"'}
        )
        assert done.status_code == 200
        assert done.headers["ETag"] == '"2"'
        assert done.json()["completed_at"] is not None
        on_record = await api.get(
            "/v1/tasks",
            params={"record": f"contacts:{contact['id']}", "status": "done"},
            headers=tenant_a.headers,
        )
        assert [t["id"] for t in on_record.json()["data"]] == [task["id"]]
        bad = await api.get("/v1/tasks", params={"record": "nope"}, headers=tenant_a.headers)
        assert bad.status_code == 422

    async def test_tags_on_records(self, api: httpx.AsyncClient, tenant_a: Account) -> None:
        contact = await create_contact(api, tenant_a, first_name="G", email="g@t.example")
        tag = await post(api, tenant_a, "/v1/tags", {"name": "VIP", "color": "#FF0000"})
        again = await api.post("/v1/tags", json={"name": "vip"}, headers=tenant_a.headers)
        assert again.status_code == 409
        base = f"/v1/contacts/{contact['id']}/tags"
        put = await api.put(f"{base}/{tag['id']}", headers=tenant_a.headers)
        assert put.status_code == 204
        listed = (await api.get(base, headers=tenant_a.headers)).json()["data"]
        assert [t["name"] for t in listed] == ["VIP"]
        removed = await api.delete(f"{base}/{tag['id']}", headers=tenant_a.headers)
        assert removed.status_code == 204
        assert (await api.get(base, headers=tenant_a.headers)).json()["data"] == []

    async def test_deleting_a_record_deletes_its_own_note_and_keeps_shared_tasks(
        self, api: httpx.AsyncClient, tenant_a: Account
    ) -> None:
        contact = await create_contact(api, tenant_a, first_name="D", email="d@t.example")
        company = await post(api, tenant_a, "/v1/companies", {"name": "Keep"})
        mine = _ref("contacts", contact)
        note = await post(api, tenant_a, "/v1/notes", {"body_html": "<p>x</p>", "records": [mine]})
        task = await post(
            api,
            tenant_a,
            "/v1/tasks",
            {"title": "Shared", "records": [mine, _ref("companies", company)]},
        )
        deleted = await api.delete(f"/v1/contacts/{contact['id']}", headers=tenant_a.headers)
        assert deleted.status_code == 204
        gone = await api.get(f"/v1/notes/{note['id']}", headers=tenant_a.headers)
        kept = await api.get(f"/v1/tasks/{task['id']}", headers=tenant_a.headers)
        assert gone.status_code == 404
        assert kept.json()["records"] == [_ref("companies", company)]


class TestCrossTenant:
    async def test_every_new_route_answers_404_for_another_tenant(
        self, api: httpx.AsyncClient, tenant_a: Account, tenant_b: Account
    ) -> None:
        contact = await create_contact(api, tenant_a, first_name="S", email="s@x.example")
        ref = _ref("contacts", contact)
        note = await post(api, tenant_a, "/v1/notes", {"body_html": "<p>s</p>", "records": [ref]})
        task = await post(api, tenant_a, "/v1/tasks", {"title": "s", "records": [ref]})
        activity = await post(
            api, tenant_a, "/v1/activities", {"kind": "email", "subject": "s", "records": [ref]}
        )
        tag = await post(api, tenant_a, "/v1/tags", {"name": "Secret"})
        b = tenant_b.headers
        record = f"/v1/contacts/{contact['id']}"
        items = [
            ("notes", note, {"body_html": "<p>pwned</p>"}),
            ("tasks", task, {"title": "pwned"}),
            ("activities", activity, {"subject": "pwned"}),
        ]
        responses = []
        for kind, item, change in items:
            path = f"/v1/{kind}/{item['id']}"
            responses += [
                await api.get(path, headers=b),
                await api.patch(path, json=change, headers=b),
                await api.delete(path, headers=b),
                await api.get(
                    f"/v1/{kind}", params={"record": f"contacts:{contact['id']}"}, headers=b
                ),
            ]
        responses += [
            await api.get(f"{record}/timeline", headers=b),
            await api.get(f"{record}/tags", headers=b),
            await api.put(f"{record}/tags/{tag['id']}", headers=b),
            await api.delete(f"{record}/tags/{tag['id']}", headers=b),
            await api.patch(f"/v1/tags/{tag['id']}", json={"name": "pwned"}, headers=b),
            await api.delete(f"/v1/tags/{tag['id']}", headers=b),
        ]
        assert [r.status_code for r in responses] == [404] * len(responses)
        attach = await api.post(
            "/v1/notes", json={"body_html": "<p>x</p>", "records": [ref]}, headers=b
        )
        assert attach.status_code == 422
        assert attach.json()["code"] == "record_not_found"
        for kind in ("notes", "tasks", "activities", "tags"):
            listed = await api.get(f"/v1/{kind}", headers=b)
            assert listed.status_code == 200, (kind, listed.status_code, listed.text)
            assert listed.json()["data"] == []
        intact = await api.get(f"/v1/notes/{note['id']}", headers=tenant_a.headers)
        assert intact.json()["body_html"] == "<p>s</p>"
