"""Companies: create, read, list and search, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request, Response, Security

from crm.crm_core.v1 import companies_pb2, records_pb2
from crm_gateway.routes.merge_pointers import pointing_to_survivor
from crm_gateway.routes.records import (
    FILTER_SYNTAX,
    ListSearch,
    etag,
    from_struct,
    parse_if_match,
    refusing_duplicates,
    search_to_proto,
    to_struct,
)
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.companies import Company, CompanyCreate, CompanyList, CompanyUpdate
from crm_gateway.schemas.records import SearchRequest
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import to_datetime

router = PrefixedRouter(prefix="/v1/companies", tags=["companies"])

CompaniesReader = Annotated[RequestContext, Security(authenticated, scopes=["companies:read"])]
CompaniesWriter = Annotated[RequestContext, Security(authenticated, scopes=["companies:write"])]


def create_request(body: CompanyCreate) -> companies_pb2.CreateCompanyRequest:
    return companies_pb2.CreateCompanyRequest(
        **body.model_dump(exclude_none=True, exclude={"custom_fields"}),
        custom_fields=to_struct(body.custom_fields),
    )


def update_request(company_id: str, body: CompanyUpdate) -> companies_pb2.UpdateCompanyRequest:
    fields = body.model_dump(exclude_unset=True, exclude={"custom_fields"})
    fields = {k: v for k, v in fields.items() if v is not None}
    update = companies_pb2.UpdateCompanyRequest(id=company_id, **fields)
    if body.custom_fields:
        update.custom_fields.CopyFrom(to_struct(body.custom_fields))
    return update


def to_company(message: companies_pb2.Company) -> Company:
    return Company(
        id=message.id,
        name=message.name,
        domain=message.domain,
        industry=message.industry,
        owner_id=message.owner_id or None,
        version=message.version,
        created_at=to_datetime(message.created_at),
        updated_at=to_datetime(message.updated_at),
        created_by=message.created_by or None,
        updated_by=message.updated_by or None,
        custom_fields=from_struct(message.custom_fields),
        external_id=message.external_id or None,
    )


@router.post(
    "",
    status_code=201,
    summary="Create a company",
    description="A company whose normalized domain already exists is refused with 409 "
    "and the existing companies' ids in `candidates`, unless `allow_duplicate` is true. "
    "Contacts are linked from the contact side (`company_ids` on a contact); list a "
    "company's contacts with `GET /v1/contacts?filter=companies.id:eq:<id>`.",
    response_model=Company,
    responses=problems(401, 403, 409, 422),
)
async def create_company(
    body: CompanyCreate, request: Request, response: Response, caller: CompaniesWriter
) -> Company:
    create = create_request(body)
    stub = request.app.state.upstreams.companies
    message = await refusing_duplicates(
        stub.CreateCompany(create), lambda: stub.FindDuplicateCompanies(create)
    )
    company = to_company(message)
    response.headers["Location"] = f"/v1/companies/{company.id}"
    response.headers["ETag"] = etag(company.version)
    return company


@router.get(
    "",
    summary="List companies, oldest first, with filters and cursor pagination",
    description=FILTER_SYNTAX,
    response_model=CompanyList,
    responses=problems(401, 403, 422),
)
async def list_companies(
    request: Request,
    caller: CompaniesReader,
    search: ListSearch,
) -> CompanyList:
    return await _search(request, search)


@router.post(
    "/search",
    summary="Search companies: filter groups, sorts, full text",
    description="AND within a filter group, OR between groups; the same fields, operators "
    "and semantics as `POST /v1/contacts/search` (linked records: `contacts.<field>`).",
    response_model=CompanyList,
    responses=problems(401, 403, 422),
)
async def search_companies(
    body: SearchRequest, request: Request, caller: CompaniesReader
) -> CompanyList:
    return await _search(request, search_to_proto(body))


async def _search(request: Request, search: records_pb2.SearchRequest) -> CompanyList:
    page = await request.app.state.upstreams.companies.SearchCompanies(search)
    return CompanyList(
        data=[to_company(c) for c in page.companies], next_cursor=page.next_cursor or None
    )


@router.get(
    "/{company_id}",
    summary="Get a company",
    description="A company merged into another answers 404 `merged` with `survivor_id` "
    "and `survivor_url`.",
    response_model=Company,
    responses=problems(401, 403, 404, 422),
)
async def get_company(
    company_id: str, request: Request, response: Response, caller: CompaniesReader
) -> Company:
    call = request.app.state.upstreams.companies.GetCompany(
        companies_pb2.GetCompanyRequest(id=company_id)
    )
    company = to_company(await pointing_to_survivor(request, "companies", company_id, call))
    response.headers["ETag"] = etag(company.version)
    return company


@router.patch(
    "/{company_id}",
    summary="Update some fields of a company",
    description="Send `If-Match` with the company's ETag to refuse the write (412) if "
    "someone changed it since you read it. `custom_fields` merges (null clears a key). A "
    "changed domain that another company has is 409 with `candidates`, unless "
    "`allow_duplicate` is true.",
    response_model=Company,
    responses=problems(401, 403, 404, 409, 412, 422),
)
async def update_company(
    company_id: str,
    body: CompanyUpdate,
    request: Request,
    response: Response,
    caller: CompaniesWriter,
    if_match: Annotated[str | None, Header()] = None,
) -> Company:
    update = update_request(company_id, body)
    expected = parse_if_match(if_match)
    if expected is not None:
        update.expected_version = expected
    stub = request.app.state.upstreams.companies

    async def candidates() -> records_pb2.DuplicateCandidates:
        found = await stub.FindDuplicateCompanies(
            companies_pb2.CreateCompanyRequest(domain=update.domain)
        )
        return records_pb2.DuplicateCandidates(ids=[i for i in found.ids if i != company_id])

    company = to_company(await refusing_duplicates(stub.UpdateCompany(update), candidates))
    response.headers["ETag"] = etag(company.version)
    return company


@router.delete(
    "/{company_id}",
    status_code=204,
    summary="Delete a company",
    description="Its contacts stay, detached from it.",
    responses=problems(401, 403, 404, 422),
)
async def delete_company(company_id: str, request: Request, caller: CompaniesWriter) -> Response:
    await request.app.state.upstreams.companies.DeleteCompany(
        companies_pb2.DeleteCompanyRequest(id=company_id)
    )
    return Response(status_code=204)
