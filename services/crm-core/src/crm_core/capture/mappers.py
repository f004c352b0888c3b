"""Capture forms and submissions <-> protobuf, nothing else."""

from __future__ import annotations

import uuid

from crm.crm_core.v1 import capture_pb2
from crm_core.capture.forms import form_fields
from crm_core.capture.schemas import Attribution, FormField, FormSettings, Submission
from crm_core.capture.stats import CampaignStats, FormStats
from crm_core.capture.submissions import Outcome
from crm_core.models import CaptureForm
from crm_kit.timestamps import to_timestamp
from crm_kit.validation import resource_id


def parse_id(value: str) -> uuid.UUID:
    return resource_id(value, resource="capture form")


def settings_from_proto(message: capture_pb2.CaptureFormSettings) -> FormSettings:
    return FormSettings(
        name=message.name,
        fields=[
            FormField(
                name=f.name,
                label=f.label,
                input_type=f.input_type,
                required=f.required,
                maps_to=f.maps_to,
            )
            for f in message.fields
        ],
        allowed_origins=list(message.allowed_origins),
        redirect_url=message.redirect_url,
        thank_you_message=message.thank_you_message,
        double_opt_in=message.double_opt_in,
        honeypot_field=message.honeypot_field,
        enabled=message.enabled,
    )


def _fields_to_proto(
    form: CaptureForm, *, with_mapping: bool
) -> list[capture_pb2.CaptureFormField]:
    return [
        capture_pb2.CaptureFormField(
            name=f.name,
            label=f.label,
            input_type=f.input_type,
            required=f.required,
            maps_to=f.maps_to if with_mapping else "",
        )
        for f in form_fields(form)
    ]


def to_proto(form: CaptureForm) -> capture_pb2.CaptureForm:
    return capture_pb2.CaptureForm(
        id=str(form.id),
        public_key=form.public_key,
        settings=capture_pb2.CaptureFormSettings(
            name=form.name,
            fields=_fields_to_proto(form, with_mapping=True),
            allowed_origins=form.allowed_origins,
            redirect_url=form.redirect_url,
            thank_you_message=form.thank_you_message,
            double_opt_in=form.double_opt_in,
            honeypot_field=form.honeypot_field,
            enabled=form.enabled,
        ),
        created_by=str(form.created_by or ""),
        created_at=to_timestamp(form.created_at),
        updated_at=to_timestamp(form.updated_at),
    )


def to_public_proto(form: CaptureForm) -> capture_pb2.PublicForm:
    return capture_pb2.PublicForm(
        public_key=form.public_key,
        name=form.name,
        fields=_fields_to_proto(form, with_mapping=False),
        allowed_origins=form.allowed_origins,
        redirect_url=form.redirect_url,
        thank_you_message=form.thank_you_message,
        honeypot_field=form.honeypot_field,
    )


def submission_from_proto(request: capture_pb2.SubmitFormRequest) -> Submission:
    a = request.attribution
    return Submission(
        public_key=request.public_key,
        values=dict(request.values),
        attribution=Attribution(
            utm_source=a.utm_source,
            utm_medium=a.utm_medium,
            utm_campaign=a.utm_campaign,
            utm_term=a.utm_term,
            utm_content=a.utm_content,
            referrer=a.referrer,
            landing_url=a.landing_url,
        ),
        origin=request.origin,
    )


def outcome_to_proto(outcome: Outcome) -> capture_pb2.SubmitFormResponse:
    return capture_pb2.SubmitFormResponse(
        redirect_url=outcome.redirect_url, thank_you_message=outcome.thank_you_message
    )


def form_stats_to_proto(stats: FormStats) -> capture_pb2.CaptureFormStats:
    return capture_pb2.CaptureFormStats(
        form_id=str(stats.form_id),
        submissions=stats.submissions,
        leads_created=stats.leads_created,
        attached_to_leads=stats.attached_to_leads,
        attached_to_contacts=stats.attached_to_contacts,
    )


def campaigns_to_proto(rows: list[CampaignStats]) -> capture_pb2.CampaignStatsResponse:
    return capture_pb2.CampaignStatsResponse(
        campaigns=[
            capture_pb2.CampaignStats(
                utm_source=r.utm_source,
                utm_medium=r.utm_medium,
                utm_campaign=r.utm_campaign,
                submissions=r.submissions,
                leads_created=r.leads_created,
                attached=r.attached,
            )
            for r in rows
        ]
    )
