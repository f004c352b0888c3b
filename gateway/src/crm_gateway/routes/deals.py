"""Deals: create, read, list and search, update, move between stages, delete."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Header, Request, Response, Security

from crm.crm_core.v1 import deals_pb2, records_pb2
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
from crm_gateway.schemas.deals import (
    Deal,
    DealCreate,
    DealList,
    DealMove,
    DealUpdate,
    StageChange,
    StageHistory,
)
from crm_gateway.schemas.records import SearchRequest
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import to_datetime

router = PrefixedRouter(prefix="/v1/deals", tags=["deals"])

DealsReader = Annotated[RequestContext, Security(authenticated, scopes=["deals:read"])]
DealsWriter = Annotated[RequestContext, Security(authenticated, scopes=["deals:write"])]

DEAL_FIELDS_FILTERS = (
    " Deals also filter on `company.<field>` (their company, e.g. `company.industry`) and "
    "`contacts.<field>`; `stage_id`, `pipeline_id`, `status`, `amount_minor`, `currency`."
)


def create_request(body: DealCreate) -> deals_pb2.CreateDealRequest:
    fields = body.model_dump(
        exclude_none=True,
        exclude={"custom_fields", "contact_ids", "expected_close_date", "probability"},
    )
    create = deals_pb2.CreateDealRequest(
        **fields,
        expected_close_date=body.expected_close_date.isoformat()
        if body.expected_close_date
        else "",
        contact_ids=body.contact_ids,
        custom_fields=to_struct(body.custom_fields),
    )
    if body.probability is not None:
        create.probability = body.probability
    return create


def to_deal(message: deals_pb2.Deal) -> Deal:
    return Deal(
        id=message.id,
        name=message.name,
        amount_minor=message.amount_minor,
        currency=message.currency,
        expected_close_date=(
            date.fromisoformat(message.expected_close_date) if message.expected_close_date else None
        ),
        owner_id=message.owner_id or None,
        pipeline_id=message.pipeline_id,
        stage_id=message.stage_id,
        probability=message.probability,
        status=message.status,
        company_id=message.company_id or None,
        contact_ids=list(message.contact_ids),
        stage_entered_at=to_datetime(message.stage_entered_at),
        version=message.version,
        created_at=to_datetime(message.created_at),
        updated_at=to_datetime(message.updated_at),
        created_by=message.created_by or None,
        updated_by=message.updated_by or None,
        custom_fields=from_struct(message.custom_fields),
        external_id=message.external_id or None,
    )


def _with_etag(response: Response, deal: Deal) -> Deal:
    response.headers["ETag"] = etag(deal.version)
    return deal


@router.post(
    "",
    status_code=201,
    summary="Create a deal",
    description="Placed in `stage_id`, else the first stage of `pipeline_id`, else of the "
    "default pipeline; status and probability come from the stage unless `probability` "
    "is given. Amounts are integer minor units with an ISO 4217 currency.",
    response_model=Deal,
    responses=problems(401, 403, 409, 422),
)
async def create_deal(
    body: DealCreate, request: Request, response: Response, caller: DealsWriter
) -> Deal:
    create = create_request(body)
    deal = to_deal(await request.app.state.upstreams.deals.CreateDeal(create))
    response.headers["Location"] = f"/v1/deals/{deal.id}"
    return _with_etag(response, deal)


@router.get(
    "",
    summary="List deals, oldest first, with filters and cursor pagination",
    description=FILTER_SYNTAX + DEAL_FIELDS_FILTERS,
    response_model=DealList,
    responses=problems(401, 403, 422),
)
async def list_deals(
    request: Request,
    caller: DealsReader,
    search: ListSearch,
) -> DealList:
    return await _search(request, search)


@router.post(
    "/search",
    summary="Search deals: filter groups, sorts, full text",
    description="The same fields, operators and semantics as `POST /v1/contacts/search`."
    + DEAL_FIELDS_FILTERS,
    response_model=DealList,
    responses=problems(401, 403, 422),
)
async def search_deals(body: SearchRequest, request: Request, caller: DealsReader) -> DealList:
    return await _search(request, search_to_proto(body))


async def _search(request: Request, search: records_pb2.SearchRequest) -> DealList:
    page = await request.app.state.upstreams.deals.SearchDeals(search)
    return DealList(data=[to_deal(d) for d in page.deals], next_cursor=page.next_cursor or None)


@router.get(
    "/{deal_id}",
    summary="Get a deal",
    response_model=Deal,
    responses=problems(401, 403, 404, 422),
)
async def get_deal(deal_id: str, request: Request, response: Response, caller: DealsReader) -> Deal:
    message = await request.app.state.upstreams.deals.GetDeal(deals_pb2.GetDealRequest(id=deal_id))
    return _with_etag(response, to_deal(message))


def update_request(deal_id: str, body: DealUpdate) -> deals_pb2.UpdateDealRequest:
    fields: dict[str, Any] = body.model_dump(
        exclude_unset=True, exclude={"custom_fields", "contact_ids"}
    )
    if "expected_close_date" in fields:
        # null clears the date: the service reads an empty string as none.
        value = fields["expected_close_date"]
        fields["expected_close_date"] = value.isoformat() if value else ""
    fields = {k: v for k, v in fields.items() if v is not None}
    update = deals_pb2.UpdateDealRequest(id=deal_id, **fields)
    if body.custom_fields:
        update.custom_fields.CopyFrom(to_struct(body.custom_fields))
    if body.contact_ids is not None:
        update.contact_ids.ids.extend(body.contact_ids)
    return update


@router.patch(
    "/{deal_id}",
    summary="Update some fields of a deal (setting stage_id moves it)",
    description="Send `If-Match` with the deal's ETag to refuse the write (412) if someone "
    "changed it since you read it. `custom_fields` merges (null clears a key); "
    "`contact_ids`, when present, replaces the deal's contacts.",
    response_model=Deal,
    responses=problems(401, 403, 404, 409, 412, 422),
)
async def update_deal(
    deal_id: str,
    body: DealUpdate,
    request: Request,
    response: Response,
    caller: DealsWriter,
    if_match: Annotated[str | None, Header()] = None,
) -> Deal:
    update = update_request(deal_id, body)
    expected = parse_if_match(if_match)
    if expected is not None:
        update.expected_version = expected
    deal = to_deal(await request.app.state.upstreams.deals.UpdateDeal(update))
    return _with_etag(response, deal)


@router.post(
    "/{deal_id}/move",
    summary="Move a deal to another stage",
    description="Records the move in the stage history with the time spent in the previous "
    "stage and publishes `crm_core.deal.stage_changed`. Status follows the stage's kind, "
    "probability the stage's. `If-Match` refuses a stale move (412).",
    response_model=Deal,
    responses=problems(401, 403, 404, 412, 422),
)
async def move_deal(
    deal_id: str,
    body: DealMove,
    request: Request,
    response: Response,
    caller: DealsWriter,
    if_match: Annotated[str | None, Header()] = None,
) -> Deal:
    move = deals_pb2.MoveDealRequest(id=deal_id, stage_id=body.stage_id)
    expected = parse_if_match(if_match)
    if expected is not None:
        move.expected_version = expected
    deal = to_deal(await request.app.state.upstreams.deals.MoveDeal(move))
    return _with_etag(response, deal)


@router.get(
    "/{deal_id}/stage-history",
    summary="A deal's stage changes, oldest first, with the time spent in each stage",
    response_model=StageHistory,
    responses=problems(401, 403, 404, 422),
)
async def deal_stage_history(deal_id: str, request: Request, caller: DealsReader) -> StageHistory:
    found = await request.app.state.upstreams.deals.ListStageHistory(
        deals_pb2.ListStageHistoryRequest(deal_id=deal_id)
    )
    return StageHistory(
        data=[
            StageChange(
                from_stage_id=c.from_stage_id or None,
                to_stage_id=c.to_stage_id,
                moved_at=to_datetime(c.moved_at),
                moved_by=c.moved_by or None,
                time_in_previous_stage_seconds=(
                    c.time_in_previous_stage_seconds
                    if c.HasField("time_in_previous_stage_seconds")
                    else None
                ),
            )
            for c in found.changes
        ]
    )


@router.delete(
    "/{deal_id}",
    status_code=204,
    summary="Delete a deal",
    description="Its contact links and stage history go with it; contacts and company stay.",
    responses=problems(401, 403, 404, 422),
)
async def delete_deal(deal_id: str, request: Request, caller: DealsWriter) -> Response:
    await request.app.state.upstreams.deals.DeleteDeal(deals_pb2.DeleteDealRequest(id=deal_id))
    return Response(status_code=204)
