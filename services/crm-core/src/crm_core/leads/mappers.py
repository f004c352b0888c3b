"""Lead <-> protobuf, nothing else."""

from __future__ import annotations

import uuid

from crm.crm_core.v1 import leads_pb2
from crm_core.leads.conversion import Conversion
from crm_core.leads.schemas import LEAD_FIELDS, ConvertDeal, LeadConversion, LeadCreate, LeadUpdate
from crm_core.models import Lead
from crm_core.records.mappers import dict_to_struct, struct_to_dict
from crm_kit.timestamps import to_timestamp
from crm_kit.validation import optional_uuid, resource_id


def parse_id(value: str) -> uuid.UUID:
    return resource_id(value, resource="lead")


def _text(value: uuid.UUID | None) -> str:
    return str(value) if value else ""


def to_proto(lead: Lead) -> leads_pb2.Lead:
    message = leads_pb2.Lead(
        id=str(lead.id),
        first_name=lead.first_name,
        last_name=lead.last_name,
        email=lead.email,
        phone=lead.phone,
        company_name=lead.company_name,
        domain=lead.domain,
        source=lead.source,
        status=lead.status,
        owner_id=_text(lead.owner_id),
        version=lead.version,
        created_at=to_timestamp(lead.created_at),
        updated_at=to_timestamp(lead.updated_at),
        created_by=_text(lead.created_by),
        updated_by=_text(lead.updated_by),
        custom_fields=dict_to_struct(lead.custom_fields),
        converted_contact_id=_text(lead.converted_contact_id),
        converted_company_id=_text(lead.converted_company_id),
        converted_deal_id=_text(lead.converted_deal_id),
        utm_source=lead.utm_source,
        utm_medium=lead.utm_medium,
        utm_campaign=lead.utm_campaign,
        utm_term=lead.utm_term,
        utm_content=lead.utm_content,
        referrer=lead.referrer,
        landing_url=lead.landing_url,
        capture_form_id=_text(lead.capture_form_id),
        external_id=lead.external_id or "",
    )
    if lead.converted_at is not None:
        message.converted_at.CopyFrom(to_timestamp(lead.converted_at))
    return message


def create_from_proto(request: leads_pb2.CreateLeadRequest) -> LeadCreate:
    return LeadCreate(
        first_name=request.first_name,
        last_name=request.last_name,
        email=request.email,
        phone=request.phone,
        company_name=request.company_name,
        domain=request.domain,
        source=request.source,
        status=request.status,
        owner_id=optional_uuid(request.owner_id, field="owner_id"),
        custom_fields=struct_to_dict(request.custom_fields),
        external_id=request.external_id,
    )


def update_from_proto(request: leads_pb2.UpdateLeadRequest) -> LeadUpdate:
    changes: dict[str, object] = {
        name: getattr(request, name)
        for name in LEAD_FIELDS
        if request.HasField(name)  # type: ignore[arg-type]  # names from LEAD_FIELDS
    }
    if "owner_id" in changes:
        changes["owner_id"] = optional_uuid(request.owner_id, field="owner_id")
    return LeadUpdate(
        changes=changes,
        custom_fields=struct_to_dict(request.custom_fields),
        expected_version=request.expected_version if request.HasField("expected_version") else None,
    )


def conversion_from_proto(request: leads_pb2.ConvertLeadRequest) -> LeadConversion:
    deal = None
    if request.HasField("deal"):
        options = request.deal
        deal = ConvertDeal(
            currency=options.currency,
            name=options.name,
            amount_minor=options.amount_minor,
            pipeline_id=optional_uuid(options.pipeline_id, field="deal.pipeline_id"),
            stage_id=optional_uuid(options.stage_id, field="deal.stage_id"),
            expected_close_date=options.expected_close_date,
        )
    return LeadConversion(
        create_company=request.create_company,
        deal=deal,
        owner_id=optional_uuid(request.owner_id, field="owner_id"),
        expected_version=request.expected_version if request.HasField("expected_version") else None,
    )


def conversion_to_proto(result: Conversion) -> leads_pb2.ConvertLeadResponse:
    return leads_pb2.ConvertLeadResponse(
        lead=to_proto(result.lead),
        contact_id=str(result.contact_id),
        contact_created=result.contact_created,
        company_id=_text(result.company_id),
        company_created=result.company_created,
        deal_id=_text(result.deal_id),
    )
