"""Capture forms, managed by the tenant's admins: create, read, replace, delete, counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, Security

from crm.crm_core.v1 import capture_pb2
from crm_gateway import capture_pages as pages
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.capture_forms import (
    CampaignStats,
    CampaignStatsList,
    CaptureForm,
    CaptureFormField,
    CaptureFormList,
    CaptureFormSettings,
    CaptureFormStats,
)
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import to_datetime

router = PrefixedRouter(prefix="/v1/capture-forms", tags=["capture forms"])

FormsReader = Annotated[RequestContext, Security(authenticated, scopes=["capture_forms:read"])]
FormsWriter = Annotated[RequestContext, Security(authenticated, scopes=["capture_forms:write"])]

MANAGE = "Admins and owners manage forms; members and viewers read them."


def settings_to_proto(body: CaptureFormSettings) -> capture_pb2.CaptureFormSettings:
    return capture_pb2.CaptureFormSettings(
        name=body.name,
        fields=[capture_pb2.CaptureFormField(**f.model_dump()) for f in body.fields],
        allowed_origins=body.allowed_origins,
        redirect_url=body.redirect_url,
        thank_you_message=body.thank_you_message,
        double_opt_in=body.double_opt_in,
        honeypot_field=body.honeypot_field,
        enabled=body.enabled,
    )


def to_form(message: capture_pb2.CaptureForm, request: Request) -> CaptureForm:
    settings = message.settings
    base = str(request.base_url).rstrip("/")
    return CaptureForm(
        id=message.id,
        public_key=message.public_key,
        hosted_url=base + pages.hosted_path(message.public_key),
        embed_script_url=base + pages.script_path(message.public_key),
        name=settings.name,
        fields=[
            CaptureFormField(
                name=f.name,
                label=f.label,
                input_type=f.input_type,
                required=f.required,
                maps_to=f.maps_to,
            )
            for f in settings.fields
        ],
        allowed_origins=list(settings.allowed_origins),
        redirect_url=settings.redirect_url,
        thank_you_message=settings.thank_you_message,
        double_opt_in=settings.double_opt_in,
        honeypot_field=settings.honeypot_field,
        enabled=settings.enabled,
        created_by=message.created_by or None,
        created_at=to_datetime(message.created_at),
        updated_at=to_datetime(message.updated_at),
    )


@router.post(
    "",
    status_code=201,
    summary="Create a capture form",
    description="Fields map to lead fields or lead custom fields (checked against their "
    "definitions). The answer carries the form's public key, its hosted page and its "
    "embed snippet. " + MANAGE,
    response_model=CaptureForm,
    responses=problems(401, 403, 422),
)
async def create_form(
    body: CaptureFormSettings, request: Request, response: Response, caller: FormsWriter
) -> CaptureForm:
    message = await request.app.state.upstreams.capture_forms.CreateForm(
        capture_pb2.CreateCaptureFormRequest(settings=settings_to_proto(body))
    )
    response.headers["Location"] = f"/v1/capture-forms/{message.id}"
    return to_form(message, request)


@router.get(
    "",
    summary="List capture forms, oldest first",
    response_model=CaptureFormList,
    responses=problems(401, 403),
)
async def list_forms(request: Request, caller: FormsReader) -> CaptureFormList:
    found = await request.app.state.upstreams.capture_forms.ListForms(
        capture_pb2.ListCaptureFormsRequest()
    )
    return CaptureFormList(data=[to_form(f, request) for f in found.forms])


@router.get(
    "/stats/campaigns",
    summary="Submission counts per campaign (utm source, medium, campaign)",
    description="Busiest first, at most 500 rows; `form_id` narrows to one form. "
    "`attached` counts submissions recorded against an existing lead or contact.",
    response_model=CampaignStatsList,
    responses=problems(401, 403, 404, 422),
)
async def campaign_stats(
    request: Request,
    caller: FormsReader,
    form_id: Annotated[str, Query(max_length=64, description="Only this form's")] = "",
) -> CampaignStatsList:
    found = await request.app.state.upstreams.capture_forms.GetCampaignStats(
        capture_pb2.CampaignStatsRequest(form_id=form_id)
    )
    return CampaignStatsList(
        data=[
            CampaignStats(
                utm_source=c.utm_source,
                utm_medium=c.utm_medium,
                utm_campaign=c.utm_campaign,
                submissions=c.submissions,
                leads_created=c.leads_created,
                attached=c.attached,
            )
            for c in found.campaigns
        ]
    )


@router.get(
    "/{form_id}",
    summary="Get a capture form",
    response_model=CaptureForm,
    responses=problems(401, 403, 404, 422),
)
async def get_form(form_id: str, request: Request, caller: FormsReader) -> CaptureForm:
    message = await request.app.state.upstreams.capture_forms.GetForm(
        capture_pb2.CaptureFormId(id=form_id)
    )
    return to_form(message, request)


@router.put(
    "/{form_id}",
    summary="Replace a capture form's settings",
    description="The public key stays, so pages carrying it keep working. " + MANAGE,
    response_model=CaptureForm,
    responses=problems(401, 403, 404, 422),
)
async def replace_form(
    form_id: str, body: CaptureFormSettings, request: Request, caller: FormsWriter
) -> CaptureForm:
    message = await request.app.state.upstreams.capture_forms.UpdateForm(
        capture_pb2.UpdateCaptureFormRequest(id=form_id, settings=settings_to_proto(body))
    )
    return to_form(message, request)


@router.delete(
    "/{form_id}",
    status_code=204,
    summary="Delete a capture form",
    description="Its key stops working and its submission log goes; leads keep their "
    "attribution. " + MANAGE,
    responses=problems(401, 403, 404, 422),
)
async def delete_form(form_id: str, request: Request, caller: FormsWriter) -> Response:
    await request.app.state.upstreams.capture_forms.DeleteForm(
        capture_pb2.CaptureFormId(id=form_id)
    )
    return Response(status_code=204)


@router.get(
    "/{form_id}/stats",
    summary="Submission counts of a capture form",
    response_model=CaptureFormStats,
    responses=problems(401, 403, 404, 422),
)
async def form_stats(form_id: str, request: Request, caller: FormsReader) -> CaptureFormStats:
    found = await request.app.state.upstreams.capture_forms.GetFormStats(
        capture_pb2.CaptureFormId(id=form_id)
    )
    return CaptureFormStats(
        form_id=found.form_id,
        submissions=found.submissions,
        leads_created=found.leads_created,
        attached_to_leads=found.attached_to_leads,
        attached_to_contacts=found.attached_to_contacts,
    )
