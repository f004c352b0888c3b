"""external_id on the four record types: validated bodies, requests and responses as
crm-core speaks them, OpenAPI, and the 409 a taken one answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from fastapi import FastAPI

from crm.crm_core.v1 import companies_pb2, contacts_pb2, deals_pb2, leads_pb2
from crm_gateway.problems import from_rpc_error
from crm_gateway.routes import companies, contacts, deals, leads
from crm_gateway.schemas import ContactCreate, ContactUpdate
from crm_gateway.schemas.companies import CompanyCreate, CompanyUpdate
from crm_gateway.schemas.deals import DealCreate, DealUpdate
from crm_gateway.schemas.leads import LeadCreate, LeadUpdate
from crm_kit.errors import ERROR_CODE_METADATA_KEY, ERROR_FIELD_METADATA_KEY

pytestmark = pytest.mark.unit

TokenFactory = Callable[..., str]

# Per type: its path, a valid create body, and the route module's request builders.
TYPES: dict[str, tuple[dict[str, Any], Any, Any, Any]] = {
    "contacts": ({"first_name": "Ada"}, ContactCreate, ContactUpdate, contacts),
    "companies": ({"name": "Acme"}, CompanyCreate, CompanyUpdate, companies),
    "leads": ({"first_name": "Lin"}, LeadCreate, LeadUpdate, leads),
    "deals": ({"name": "Renewal", "currency": "EUR"}, DealCreate, DealUpdate, deals),
}
RECORD_ID = "0b5e0c3e-0000-4000-8000-000000000001"


@pytest.mark.parametrize("object_type", list(TYPES))
class TestBodies:
    @pytest.mark.parametrize(
        ("value", "code"),
        [("x" * 201, "string_too_long"), (31, "string_type"), ("a\x00b", "value_error")],
    )
    async def test_a_bad_value_is_422_naming_it_on_create_and_update(
        self,
        client: httpx.AsyncClient,
        mint_token: TokenFactory,
        object_type: str,
        value: Any,
        code: str,
    ) -> None:
        base = TYPES[object_type][0]
        headers = {"Authorization": f"Bearer {mint_token()}"}
        created = await client.post(
            f"/v1/{object_type}", json={**base, "external_id": value}, headers=headers
        )
        updated = await client.patch(
            f"/v1/{object_type}/{RECORD_ID}", json={"external_id": value}, headers=headers
        )
        for response in (created, updated):
            assert response.status_code == 422
            errors = response.json()["errors"]
            assert [(e["field"], e["code"]) for e in errors] == [("external_id", code)]

    def test_create_sends_it_and_its_absence(self, object_type: str) -> None:
        base, create_schema, _, route = TYPES[object_type]
        assert route.create_request(create_schema(**base, external_id="SF-1")).external_id == (
            "SF-1"
        )
        assert route.create_request(create_schema(**base)).external_id == ""

    def test_update_sends_a_value_or_an_empty_string_and_leaves_it_when_absent_or_null(
        self, object_type: str
    ) -> None:
        _, _, update_schema, route = TYPES[object_type]

        def sent(**body: Any) -> tuple[bool, str]:
            request = route.update_request(RECORD_ID, update_schema(**body))
            return request.HasField("external_id"), request.external_id

        assert sent(external_id="SF-2") == (True, "SF-2")
        assert sent(external_id="") == (True, "")  # clears it
        assert sent() == (False, "")
        assert sent(external_id=None) == (False, "")


class TestResponses:
    @pytest.mark.parametrize(
        ("build", "message"),
        [
            (contacts.to_contact, contacts_pb2.Contact),
            (companies.to_company, companies_pb2.Company),
            (leads.to_lead, leads_pb2.Lead),
            (deals.to_deal, deals_pb2.Deal),
        ],
    )
    def test_it_shows_or_is_null(self, build: Any, message: Any) -> None:
        extra = (
            {"pipeline_id": "p", "stage_id": "s", "status": "open"}
            if build is deals.to_deal
            else {}
        )
        assert build(message(id="r1", external_id="SF-9", **extra)).external_id == "SF-9"
        assert build(message(id="r1", **extra)).external_id is None


class TestConflict:
    def test_a_taken_external_id_is_409_with_its_code_and_field(self) -> None:
        error = grpc.aio.AioRpcError(
            grpc.StatusCode.ALREADY_EXISTS,
            initial_metadata=grpc.aio.Metadata(),
            trailing_metadata=grpc.aio.Metadata(
                (ERROR_CODE_METADATA_KEY, "external_id_taken"),
                (ERROR_FIELD_METADATA_KEY, "external_id"),
            ),
            details="another contact has this external_id",
        )
        problem = from_rpc_error(error)
        assert (problem.status, problem.code) == (409, "external_id_taken")
        assert [e["field"] for e in problem.errors] == ["external_id"]


class TestOpenApi:
    def test_schemas_document_it_with_an_example_and_its_limit(self, app: FastAPI) -> None:
        schemas = app.openapi()["components"]["schemas"]
        for record in ("Contact", "Company", "Lead", "Deal"):
            shown = schemas[record]["properties"]["external_id"]
            assert shown["examples"] == ["SF-0031"]
            for body in (f"{record}Create", f"{record}Update"):
                accepted = schemas[body]["properties"]["external_id"]
                assert "SF-0031" in accepted["examples"]
                assert "external_id_taken" in accepted["description"]
                limits = [accepted.get("maxLength")] + [
                    option.get("maxLength") for option in accepted.get("anyOf", [])
                ]
                assert 200 in limits

    def test_the_list_endpoints_document_the_filter(self, app: FastAPI) -> None:
        paths = app.openapi()["paths"]
        for object_type in TYPES:
            assert "external_id:eq:" in paths[f"/v1/{object_type}"]["get"]["description"]
