"""Export requests: the list-style `filter` joins every `/search` group, an API key
with read on any exportable type reaches the routes, and the job maps to its body."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from crm.crm_core.v1 import exports_pb2
from crm_gateway.problems import Problem
from crm_gateway.routes.exports import EXPORT_SCOPES, _field_names, _items, _search, to_export
from crm_gateway.schemas.exports import ExportCreate
from crm_gateway.schemas.records import Filter, FilterGroup
from crm_gateway.security import check_scopes
from crm_kit.auth.tokens import API_KEY_ACTOR, Principal
from crm_kit.db.models import utcnow
from crm_kit.timestamps import to_timestamp

pytestmark = pytest.mark.unit


def key_with(*scopes: str) -> Principal:
    return Principal(
        uuid.uuid4(), uuid.uuid4(), (), "t", 0, scopes=scopes, actor_kind=API_KEY_ACTOR
    )


class TestSearch:
    def test_list_filters_join_every_group(self) -> None:
        body = ExportCreate(
            object_type="contacts",
            filter=["email:contains:example", "first_name:in:Ada,Bob"],
            filter_groups=[
                FilterGroup(filters=[Filter(field="last_name", operator="eq", value="A")]),
                FilterGroup(filters=[Filter(field="last_name", operator="eq", value="B")]),
            ],
        )

        search = _search(body)

        assert [[f.field for f in g.filters] for g in search.filter_groups] == [
            ["last_name", "email", "first_name"],
            ["last_name", "email", "first_name"],
        ]
        assert [v.string_value for v in search.filter_groups[0].filters[2].values] == [
            "Ada",
            "Bob",
        ]

    def test_list_filters_alone_are_one_group(self) -> None:
        search = _search(ExportCreate(object_type="deals", filter=["name:eq:Big"]))

        assert [[f.field for f in g.filters] for g in search.filter_groups] == [["name"]]
        assert search.filter_groups[0].filters[0].value.string_value == "Big"

    def test_a_malformed_list_filter_is_422(self) -> None:
        with pytest.raises(Problem) as refused:
            _search(ExportCreate(object_type="contacts", filter=["email"]))

        assert refused.value.status == 422


class TestErrorFieldNames:
    def test_errors_in_list_filters_name_filter_not_the_search_group(self) -> None:
        names = _field_names(ExportCreate(object_type="contacts", filter=["email:eq:a"]))

        assert names["filter_groups[0].filters"] == "filter"
        assert names["items.statuses"] == "items.status"

    def test_with_search_groups_the_groups_keep_their_name(self) -> None:
        body = ExportCreate(
            object_type="contacts",
            filter=["email:eq:a"],
            filter_groups=[FilterGroup(filters=[Filter(field="email", operator="eq", value="b")])],
        )

        assert "filter_groups" not in _field_names(body)


class TestItemFilters:
    def test_the_body_items_become_the_lists_filters(self) -> None:
        body = ExportCreate.model_validate(
            {
                "object_type": "tasks",
                "items": {
                    "record": "deals:d1",
                    "assignee_id": "u1",
                    "status": ["open", "done"],
                    "due_before": "2026-07-01T00:00:00Z",
                    "due_after": "2026-06-01T00:00:00+02:00",
                },
            }
        )

        items = _items(body)

        assert items is not None
        assert (items.record.record_type, items.record.record_id) == ("deals", "d1")
        assert (items.assignee_id, list(items.statuses)) == ("u1", ["open", "done"])
        assert items.due_before == "2026-07-01T00:00:00+00:00"
        assert items.due_after == "2026-06-01T00:00:00+02:00"

    def test_no_items_sends_none_and_an_empty_one_sends_an_empty_filter(self) -> None:
        assert _items(ExportCreate(object_type="notes")) is None
        empty = _items(ExportCreate.model_validate({"object_type": "notes", "items": {}}))
        assert empty == exports_pb2.ItemFilter()

    def test_a_malformed_record_is_422_naming_items_record(self) -> None:
        body = ExportCreate.model_validate(
            {"object_type": "notes", "items": {"record": "people:1"}}
        )

        with pytest.raises(Problem) as refused:
            _items(body)

        assert refused.value.status == 422
        assert [e["field"] for e in refused.value.errors or []] == ["items.record"]

    @pytest.mark.parametrize(
        ("items", "location"),
        [
            ({"status": ["later"]}, ("items", "status", 0)),
            ({"due_before": "soon"}, ("items", "due_before")),
            ({"color": "red"}, ("items", "color")),
        ],
    )
    def test_bad_item_filters_are_refused_by_the_schema(
        self, items: dict[str, object], location: tuple[object, ...]
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            ExportCreate.model_validate({"object_type": "tasks", "items": items})

        assert refused.value.errors()[0]["loc"] == location

    def test_openapi_documents_the_item_types_and_filters_with_an_example(
        self, app: FastAPI
    ) -> None:
        schemas = app.openapi()["components"]["schemas"]
        create = schemas["ExportCreate"]

        assert {"activities", "tasks", "notes"} <= set(create["properties"]["object_type"]["enum"])
        assert set(schemas["ExportItemFilter"]["properties"]) == {
            "record",
            "assignee_id",
            "status",
            "due_before",
            "due_after",
        }
        assert "tasks" in [e["object_type"] for e in create["examples"]]


class TestScopes:
    @pytest.mark.parametrize(
        "scope", ["contacts:read", "deals:write", "leads:read", "tasks:read", "notes:read"]
    )
    def test_read_on_any_exportable_type_lets_a_key_in(self, scope: str) -> None:
        check_scopes(key_with(scope), [EXPORT_SCOPES])

    def test_a_key_without_any_is_refused(self) -> None:
        with pytest.raises(Problem) as refused:
            check_scopes(key_with("tags:write", "files:read"), [EXPORT_SCOPES])

        assert refused.value.code == "insufficient_scope"


class TestBody:
    def test_a_completed_job_carries_its_download_url(self) -> None:
        now = utcnow()
        message = exports_pb2.Export(
            id="e1",
            object_type="contacts",
            state="completed",
            rows_written=3,
            columns=["email"],
            created_at=to_timestamp(now),
            completed_at=to_timestamp(now),
            download_token="abc.1.sig",
            download_expires_at=to_timestamp(now),
        )

        body = to_export(message)

        assert body.download_url == "/v1/exports/e1/download?token=abc.1.sig"
        assert body.started_at is None
        assert body.completed_at == now
        assert body.error is None

    def test_a_failed_job_carries_its_error(self) -> None:
        message = exports_pb2.Export(
            id="e1",
            object_type="leads",
            state="failed",
            created_at=to_timestamp(utcnow()),
            error_code="unknown_field",
            error_message="unknown field 'x'",
        )

        body = to_export(message)

        assert body.download_url is None
        assert body.error is not None
        assert body.error.code == "unknown_field"


class TestDownloadRoute:
    async def test_the_download_needs_its_token_not_a_bearer(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/v1/exports/e1/download")

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"].endswith("token")
