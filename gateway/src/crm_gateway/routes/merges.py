"""Merging duplicate contacts or companies into the record named by the path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Response, Security

from crm.crm_core.v1 import companies_pb2, contacts_pb2, merges_pb2
from crm_gateway.routes import companies, contacts
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas import Contact
from crm_gateway.schemas.companies import Company
from crm_gateway.schemas.merges import MergeRequest
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext

router = PrefixedRouter(tags=["merge"])

MERGE_RULE = (
    "Admins and owners only. In one transaction the merged record's {moved} move to the "
    "survivor, the survivor's empty fields (standard and custom) take the merged "
    "record's values, the merged record is deleted and `crm_core.{label}.merged` is "
    "published. Afterwards the merged id answers 404 `merged` with `survivor_id` and "
    "`survivor_url`. A record merged into itself, or a record of another type, is 422; "
    "a record already merged is 409 `already_merged`. Answers the survivor."
)
CONTACT_MOVES = (
    "company links, deals, leads converted into it, activity participation, relation "
    "values pointing at it, notes/tasks/activities links, tags and field history"
)
COMPANY_MOVES = (
    "contact links, deals, leads converted into it, relation values pointing at it, "
    "notes/tasks/activities links, tags and field history"
)

ContactsWriter = Annotated[RequestContext, Security(authenticated, scopes=["contacts:write"])]
CompaniesWriter = Annotated[RequestContext, Security(authenticated, scopes=["companies:write"])]


async def _merge(request: Request, object_type: str, survivor_id: str, body: MergeRequest) -> None:
    await request.app.state.upstreams.merges.MergeRecords(
        merges_pb2.MergeRecordsRequest(
            object_type=object_type, survivor_id=survivor_id, merged_id=body.merged_id
        )
    )


@router.post(
    "/v1/contacts/{survivor_id}/merge",
    summary="Merge a duplicate contact into this one",
    description=MERGE_RULE.format(moved=CONTACT_MOVES, label="contact"),
    response_model=Contact,
    responses=problems(401, 403, 404, 409, 422),
)
async def merge_contacts(
    survivor_id: str,
    body: MergeRequest,
    request: Request,
    response: Response,
    caller: ContactsWriter,
) -> Contact:
    await _merge(request, "contacts", survivor_id, body)
    message = await request.app.state.upstreams.contacts.GetContact(
        contacts_pb2.GetContactRequest(id=survivor_id)
    )
    contact = contacts.to_contact(message)
    response.headers["ETag"] = contacts.etag(contact)
    return contact


@router.post(
    "/v1/companies/{survivor_id}/merge",
    summary="Merge a duplicate company into this one",
    description=MERGE_RULE.format(moved=COMPANY_MOVES, label="company"),
    response_model=Company,
    responses=problems(401, 403, 404, 409, 422),
)
async def merge_companies(
    survivor_id: str,
    body: MergeRequest,
    request: Request,
    response: Response,
    caller: CompaniesWriter,
) -> Company:
    await _merge(request, "companies", survivor_id, body)
    message = await request.app.state.upstreams.companies.GetCompany(
        companies_pb2.GetCompanyRequest(id=survivor_id)
    )
    company = companies.to_company(message)
    response.headers["ETag"] = f'"{company.version}"'
    return company
