"""Leads: create, read, list and search, update, delete, convert."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request, Response, Security

from crm.crm_core.v1 import leads_pb2, records_pb2
from crm_gateway.routes.records import (
    FILTER_SYNTAX,
    ListSearch,
    etag,
    from_struct,
    parse_if_match,
    search_to_proto,
    to_struct,
)
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.leads import (
    Lead,
    LeadConversion,
    LeadConvert,
    LeadCreate,
    LeadList,
    LeadUpdate,
)
from crm_gateway.schemas.records import SearchRequest
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import to_datetime

router = PrefixedRouter(prefix="/v1/leads", tags=["leads"])

LeadsReader = Annotated[RequestContext, Security(authenticated, scopes=["leads:read"])]
LeadsWriter = Annotated[RequestContext, Security(authenticated, scopes=["leads:write"])]


def create_request(body: LeadCreate) -> leads_pb2.CreateLeadRequest:
    return leads_pb2.CreateLeadRequest(
        **body.model_dump(exclude_none=True, exclude={"custom_fields"}),
        custom_fields=to_struct(body.custom_fields),
    )


def update_request(lead_id: str, body: LeadUpdate) -> leads_pb2.UpdateLeadRequest:
    fields = body.model_dump(exclude_unset=True, exclude={"custom_fields"})
    fields = {k: v for k, v in fields.items() if v is not None}
    update = leads_pb2.UpdateLeadRequest(id=lead_id, **fields)
    if body.custom_fields:
        update.custom_fields.CopyFrom(to_struct(body.custom_fields))
    return update


def to_lead(message: leads_pb2.Lead) -> Lead:
    return Lead(
        id=message.id,
        first_name=message.first_name,
        last_name=message.last_name,
        email=message.email,
        phone=message.phone,
        company_name=message.company_name,
        domain=message.domain,
        source=message.source,
        status=message.status,
        owner_id=message.owner_id or None,
        version=message.version,
        created_at=to_datetime(message.created_at),
        updated_at=to_datetime(message.updated_at),
        created_by=message.created_by or None,
        updated_by=message.updated_by or None,
        custom_fields=from_struct(message.custom_fields),
        converted_at=to_datetime(message.converted_at)
        if message.HasField("converted_at")
        else None,
        converted_contact_id=message.converted_contact_id or None,
        converted_company_id=message.converted_company_id or None,
        converted_deal_id=message.converted_deal_id or None,
        utm_source=message.utm_source,
        utm_medium=message.utm_medium,
        utm_campaign=message.utm_campaign,
        utm_term=message.utm_term,
        utm_content=message.utm_content,
        referrer=message.referrer,
        landing_url=message.landing_url,
        capture_form_id=message.capture_form_id or None,
        external_id=message.external_id or None,
    )


def _with_etag(response: Response, lead: Lead) -> Lead:
    response.headers["ETag"] = etag(lead.version)
    return lead


@router.post(
    "",
    status_code=201,
    summary="Create a lead",
    description="A lead needs a first or last name, an email or a company name.",
    response_model=Lead,
    responses=problems(401, 403, 409, 422),
)
async def create_lead(
    body: LeadCreate, request: Request, response: Response, caller: LeadsWriter
) -> Lead:
    create = create_request(body)
    lead = to_lead(await request.app.state.upstreams.leads.CreateLead(create))
    response.headers["Location"] = f"/v1/leads/{lead.id}"
    return _with_etag(response, lead)


@router.get(
    "",
    summary="List leads, oldest first, with filters and cursor pagination",
    description=FILTER_SYNTAX + " Leads also filter on `source` and `status`, and on "
    "their first-touch attribution from capture forms: `utm_source`, `utm_medium`, "
    "`utm_campaign`, `utm_term`, `utm_content`, `referrer`, `landing_url`, "
    "`capture_form_id` (`?filter=utm_campaign:eq:spring`).",
    response_model=LeadList,
    responses=problems(401, 403, 422),
)
async def list_leads(
    request: Request,
    caller: LeadsReader,
    search: ListSearch,
) -> LeadList:
    return await _search(request, search)


@router.post(
    "/search",
    summary="Search leads: filter groups, sorts, full text",
    description="The same fields, operators and semantics as `POST /v1/contacts/search`; "
    "full text covers names, email, phone, company name and domain.",
    response_model=LeadList,
    responses=problems(401, 403, 422),
)
async def search_leads(body: SearchRequest, request: Request, caller: LeadsReader) -> LeadList:
    return await _search(request, search_to_proto(body))


async def _search(request: Request, search: records_pb2.SearchRequest) -> LeadList:
    page = await request.app.state.upstreams.leads.SearchLeads(search)
    return LeadList(data=[to_lead(x) for x in page.leads], next_cursor=page.next_cursor or None)


@router.get(
    "/{lead_id}",
    summary="Get a lead",
    response_model=Lead,
    responses=problems(401, 403, 404, 422),
)
async def get_lead(lead_id: str, request: Request, response: Response, caller: LeadsReader) -> Lead:
    message = await request.app.state.upstreams.leads.GetLead(leads_pb2.GetLeadRequest(id=lead_id))
    return _with_etag(response, to_lead(message))


@router.patch(
    "/{lead_id}",
    summary="Update some fields of a lead",
    description="Send `If-Match` with the lead's ETag to refuse the write (412) if someone "
    "changed it since you read it. A converted lead's status cannot change (409).",
    response_model=Lead,
    responses=problems(401, 403, 404, 409, 412, 422),
)
async def update_lead(
    lead_id: str,
    body: LeadUpdate,
    request: Request,
    response: Response,
    caller: LeadsWriter,
    if_match: Annotated[str | None, Header()] = None,
) -> Lead:
    update = update_request(lead_id, body)
    expected = parse_if_match(if_match)
    if expected is not None:
        update.expected_version = expected
    lead = to_lead(await request.app.state.upstreams.leads.UpdateLead(update))
    return _with_etag(response, lead)


def _convert_request(lead_id: str, body: LeadConvert) -> leads_pb2.ConvertLeadRequest:
    convert = leads_pb2.ConvertLeadRequest(
        id=lead_id, create_company=body.create_company, owner_id=body.owner_id or ""
    )
    if body.deal is not None:
        deal = body.deal
        convert.deal.CopyFrom(
            leads_pb2.ConvertDealOptions(
                name=deal.name,
                amount_minor=deal.amount_minor,
                currency=deal.currency,
                pipeline_id=deal.pipeline_id or "",
                stage_id=deal.stage_id or "",
                expected_close_date=deal.expected_close_date.isoformat()
                if deal.expected_close_date
                else "",
            )
        )
    return convert


@router.post(
    "/{lead_id}/convert",
    summary="Convert a lead into a contact, and optionally a company and a deal",
    description="One transaction: all of it happens or none. The contact with the lead's "
    "email (any case) is reused, else one is created; with `create_company` the company "
    "with the lead's domain is reused, else one is created. Reused records are only "
    "filled where empty. The lead becomes `converted` and links what it became; a second "
    "conversion is 409 `lead_already_converted`. `If-Match` refuses a stale lead (412).",
    response_model=LeadConversion,
    responses=problems(401, 403, 404, 409, 412, 422),
)
async def convert_lead(
    lead_id: str,
    body: LeadConvert,
    request: Request,
    caller: LeadsWriter,
    if_match: Annotated[str | None, Header()] = None,
) -> LeadConversion:
    convert = _convert_request(lead_id, body)
    expected = parse_if_match(if_match)
    if expected is not None:
        convert.expected_version = expected
    result = await request.app.state.upstreams.leads.ConvertLead(convert)
    return LeadConversion(
        lead=to_lead(result.lead),
        contact_id=result.contact_id,
        contact_created=result.contact_created,
        company_id=result.company_id or None,
        company_created=result.company_created,
        deal_id=result.deal_id or None,
    )


@router.delete(
    "/{lead_id}",
    status_code=204,
    summary="Delete a lead",
    description="What a converted lead became (contact, company, deal) stays.",
    responses=problems(401, 403, 404, 422),
)
async def delete_lead(lead_id: str, request: Request, caller: LeadsWriter) -> Response:
    await request.app.state.upstreams.leads.DeleteLead(leads_pb2.DeleteLeadRequest(id=lead_id))
    return Response(status_code=204)
