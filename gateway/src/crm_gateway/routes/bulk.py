"""Bulk create, update and delete of contacts, companies, leads and deals.

Each item is checked here like the single-record route's body, and applied by crm-core
in its own savepoint: a bad item gets its own problem, the others are applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from fastapi import Request, Security
from pydantic import Field, ValidationError

from crm.crm_core.v1 import companies_pb2, contacts_pb2, deals_pb2, leads_pb2, records_pb2
from crm_gateway.problems import GRPC_TO_HTTP, TITLES
from crm_gateway.routes import companies, contacts, deals, leads
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas import ApiModel, ContactCreate, ContactUpdate, FieldError
from crm_gateway.schemas.bulk import BulkItemResult, BulkRequest, BulkResponse, ItemProblem
from crm_gateway.schemas.companies import CompanyCreate, CompanyUpdate
from crm_gateway.schemas.deals import DealCreate, DealUpdate
from crm_gateway.schemas.leads import LeadCreate, LeadUpdate
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext

router = PrefixedRouter(tags=["bulk"])


@dataclass(frozen=True)
class BulkTarget:
    """How one record type's items become its gRPC bulk request."""

    name: str
    create_schema: type[ApiModel]
    update_schema: type[ApiModel]
    create_request: Callable[[Any], Any]
    update_request: Callable[[str, Any], Any]
    request_type: Callable[..., Any]
    rpc: str


TARGETS = (
    BulkTarget(
        "contacts",
        ContactCreate,
        ContactUpdate,
        contacts.create_request,
        contacts.update_request,
        contacts_pb2.BulkContactsRequest,
        "BulkContacts",
    ),
    BulkTarget(
        "companies",
        CompanyCreate,
        CompanyUpdate,
        companies.create_request,
        companies.update_request,
        companies_pb2.BulkCompaniesRequest,
        "BulkCompanies",
    ),
    BulkTarget(
        "leads",
        LeadCreate,
        LeadUpdate,
        leads.create_request,
        leads.update_request,
        leads_pb2.BulkLeadsRequest,
        "BulkLeads",
    ),
    BulkTarget(
        "deals",
        DealCreate,
        DealUpdate,
        deals.create_request,
        deals.update_request,
        deals_pb2.BulkDealsRequest,
        "BulkDeals",
    ),
)


class _RecordKey(ApiModel):
    id: str = Field(min_length=1, max_length=100)
    version: int | None = Field(default=None, ge=1)


def _invalid(exc: ValidationError) -> ItemProblem:
    errors = [
        FieldError(field=".".join(str(p) for p in err["loc"]), message=err["msg"], code=err["type"])
        for err in exc.errors()
    ]
    return ItemProblem(
        type="/problems/validation_failed",
        title=TITLES[422],
        status=422,
        detail="the item is not valid",
        code="validation_failed",
        errors=errors,
    )


def _update(target: BulkTarget, item: dict[str, Any]) -> Any:
    fields = dict(item)
    key = _RecordKey.model_validate(
        {name: fields.pop(name) for name in ("id", "version") if name in fields}
    )
    update = target.update_request(key.id, target.update_schema.model_validate(fields))
    if key.version is not None:
        update.expected_version = key.version
    return update


def _decoded(target: BulkTarget, operation: str, item: dict[str, Any]) -> Any:
    """The item as its gRPC message (an id for delete); ValidationError when invalid."""
    if operation == "create":
        return target.create_request(target.create_schema.model_validate(item))
    if operation == "update":
        return _update(target, item)
    return _RecordKey.model_validate(item).id


def _upstream_problem(result: records_pb2.BulkItemResult) -> ItemProblem:
    status = GRPC_TO_HTTP.get(grpc.StatusCode[result.error_status], 500)
    errors = None
    if result.error_field:
        errors = [
            FieldError(
                field=result.error_field, message=result.error_message, code=result.error_code
            )
        ]
    return ItemProblem(
        type=f"/problems/{result.error_code}",
        title=TITLES.get(status, "Error"),
        status=status,
        detail=result.error_message,
        code=result.error_code,
        errors=errors,
    )


async def _run(request: Request, target: BulkTarget, body: BulkRequest) -> BulkResponse:
    results: dict[int, BulkItemResult] = {}
    sent: list[int] = []
    messages: list[Any] = []
    for index, item in enumerate(body.items):
        try:
            messages.append(_decoded(target, body.operation, item))
            sent.append(index)
        except ValidationError as exc:
            results[index] = BulkItemResult(index=index, status="error", error=_invalid(exc))
    if messages:
        field = {"create": "creates", "update": "updates", "delete": "delete_ids"}[body.operation]
        stub = getattr(request.app.state.upstreams, target.name)
        answer = await getattr(stub, target.rpc)(target.request_type(**{field: messages}))
        for result in answer.results:
            index = sent[result.index]
            results[index] = (
                BulkItemResult(index=index, status="error", error=_upstream_problem(result))
                if result.error_status
                else BulkItemResult(index=index, status="ok", id=result.id)
            )
    return BulkResponse(results=[results[i] for i in range(len(body.items))])


def _route(target: BulkTarget) -> None:
    scopes = [f"{target.name}:write"]

    async def bulk_write(
        body: BulkRequest,
        request: Request,
        caller: RequestContext = Security(authenticated, scopes=scopes),  # noqa: B008
    ) -> BulkResponse:
        return await _run(request, target, body)

    router.add_api_route(
        f"/v1/{target.name}/bulk",
        bulk_write,
        methods=["POST"],
        name=f"bulk_{target.name}",
        summary=f"Create, update or delete up to 100 {target.name} in one call",
        description="One `operation` on 1..100 `items`. Each item is applied on its own "
        "(nothing of a failing item is applied, and it does not stop the others), and "
        "the answer (200) lists each item's outcome in order: `ok` with the record's `id`, "
        "or `error` with the problem the single-record route would have answered. Each "
        "applied item publishes its event. Deleting needs an admin or owner.",
        response_model=BulkResponse,
        responses=problems(401, 403, 422),
    )


for _target in TARGETS:
    _route(_target)
