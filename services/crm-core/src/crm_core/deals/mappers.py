"""Deal <-> protobuf, nothing else."""

from __future__ import annotations

import uuid

from crm.crm_core.v1 import deals_pb2
from crm_core.deals.schemas import DEAL_FIELDS, DealCreate, DealUpdate
from crm_core.models import Deal, DealStageHistory
from crm_core.records.mappers import dict_to_struct, id_list, struct_to_dict
from crm_kit.timestamps import to_timestamp
from crm_kit.validation import optional_uuid, resource_id


def parse_id(value: str) -> uuid.UUID:
    return resource_id(value, resource="deal")


def _text(value: uuid.UUID | None) -> str:
    return str(value) if value else ""


def to_proto(deal: Deal, contact_ids: list[uuid.UUID]) -> deals_pb2.Deal:
    return deals_pb2.Deal(
        id=str(deal.id),
        name=deal.name,
        amount_minor=deal.amount_minor,
        currency=deal.currency,
        expected_close_date=deal.expected_close_date.isoformat()
        if deal.expected_close_date
        else "",
        owner_id=_text(deal.owner_id),
        pipeline_id=str(deal.pipeline_id),
        stage_id=str(deal.stage_id),
        probability=deal.probability,
        status=deal.status,
        company_id=_text(deal.company_id),
        contact_ids=[str(c) for c in contact_ids],
        stage_entered_at=to_timestamp(deal.stage_entered_at),
        version=deal.version,
        created_at=to_timestamp(deal.created_at),
        updated_at=to_timestamp(deal.updated_at),
        created_by=_text(deal.created_by),
        updated_by=_text(deal.updated_by),
        custom_fields=dict_to_struct(deal.custom_fields),
        external_id=deal.external_id or "",
    )


def history_to_proto(change: DealStageHistory) -> deals_pb2.StageChange:
    message = deals_pb2.StageChange(
        from_stage_id=_text(change.from_stage_id),
        to_stage_id=str(change.to_stage_id),
        moved_at=to_timestamp(change.moved_at),
        moved_by=_text(change.moved_by),
    )
    if change.time_in_previous_stage_seconds is not None:
        message.time_in_previous_stage_seconds = change.time_in_previous_stage_seconds
    return message


def create_from_proto(request: deals_pb2.CreateDealRequest) -> DealCreate:
    return DealCreate(
        name=request.name,
        currency=request.currency,
        amount_minor=request.amount_minor,
        expected_close_date=request.expected_close_date,
        owner_id=optional_uuid(request.owner_id, field="owner_id"),
        pipeline_id=optional_uuid(request.pipeline_id, field="pipeline_id"),
        stage_id=optional_uuid(request.stage_id, field="stage_id"),
        probability=request.probability if request.HasField("probability") else None,
        company_id=optional_uuid(request.company_id, field="company_id"),
        contact_ids=id_list(list(request.contact_ids), field="contact_ids"),
        custom_fields=struct_to_dict(request.custom_fields),
        external_id=request.external_id,
    )


def update_from_proto(request: deals_pb2.UpdateDealRequest) -> DealUpdate:
    changes: dict[str, object] = {
        name: getattr(request, name)
        for name in DEAL_FIELDS
        if request.HasField(name)  # type: ignore[arg-type]  # names from DEAL_FIELDS
    }
    for name in ("owner_id", "company_id"):
        if name in changes:
            changes[name] = optional_uuid(str(changes[name]), field=name)
    return DealUpdate(
        changes=changes,
        stage_id=(
            optional_uuid(request.stage_id, field="stage_id")
            if request.HasField("stage_id")
            else None
        ),
        contact_ids=(
            id_list(list(request.contact_ids.ids), field="contact_ids")
            if request.HasField("contact_ids")
            else None
        ),
        custom_fields=struct_to_dict(request.custom_fields),
        expected_version=request.expected_version if request.HasField("expected_version") else None,
    )
