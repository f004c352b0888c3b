"""Company <-> protobuf, nothing else."""

from __future__ import annotations

import uuid

from crm.crm_core.v1 import companies_pb2
from crm_core.companies.schemas import COMPANY_FIELDS, CompanyCreate, CompanyUpdate
from crm_core.models import Company
from crm_core.records.mappers import dict_to_struct, struct_to_dict
from crm_kit.timestamps import to_timestamp
from crm_kit.validation import optional_uuid, resource_id


def parse_id(value: str) -> uuid.UUID:
    return resource_id(value, resource="company")


def to_proto(company: Company) -> companies_pb2.Company:
    return companies_pb2.Company(
        id=str(company.id),
        name=company.name,
        domain=company.domain,
        industry=company.industry,
        owner_id=str(company.owner_id) if company.owner_id else "",
        version=company.version,
        created_at=to_timestamp(company.created_at),
        updated_at=to_timestamp(company.updated_at),
        created_by=str(company.created_by) if company.created_by else "",
        updated_by=str(company.updated_by) if company.updated_by else "",
        custom_fields=dict_to_struct(company.custom_fields),
        external_id=company.external_id or "",
    )


def create_from_proto(request: companies_pb2.CreateCompanyRequest) -> CompanyCreate:
    return CompanyCreate(
        name=request.name,
        domain=request.domain,
        industry=request.industry,
        owner_id=optional_uuid(request.owner_id, field="owner_id"),
        custom_fields=struct_to_dict(request.custom_fields),
        allow_duplicate=request.allow_duplicate,
        external_id=request.external_id,
    )


def update_from_proto(request: companies_pb2.UpdateCompanyRequest) -> CompanyUpdate:
    changes: dict[str, object] = {
        name: getattr(request, name)
        for name in COMPANY_FIELDS
        if request.HasField(name)  # type: ignore[arg-type]  # names from COMPANY_FIELDS
    }
    if "owner_id" in changes:
        changes["owner_id"] = optional_uuid(request.owner_id, field="owner_id")
    return CompanyUpdate(
        changes=changes,
        custom_fields=struct_to_dict(request.custom_fields),
        expected_version=request.expected_version if request.HasField("expected_version") else None,
        allow_duplicate=request.allow_duplicate,
    )
