"""Contact <-> protobuf, nothing else."""

from __future__ import annotations

import uuid

from crm.crm_core.v1 import contacts_pb2
from crm_core.contacts.schemas import CONTACT_FIELDS, ContactCreate, ContactUpdate
from crm_core.models import Contact
from crm_core.records.mappers import dict_to_struct, id_list, struct_to_dict
from crm_kit.db.driver_reads import RecordFields
from crm_kit.timestamps import to_timestamp
from crm_kit.validation import optional_uuid, resource_id


def parse_id(value: str) -> uuid.UUID:
    return resource_id(value, resource="contact")


def to_proto(contact: Contact | RecordFields, company_ids: list[uuid.UUID]) -> contacts_pb2.Contact:
    return contacts_pb2.Contact(
        id=str(contact.id),
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        phone=contact.phone,
        owner_id=str(contact.owner_id) if contact.owner_id else "",
        version=contact.version,
        created_at=to_timestamp(contact.created_at),
        updated_at=to_timestamp(contact.updated_at),
        created_by=str(contact.created_by) if contact.created_by else "",
        updated_by=str(contact.updated_by) if contact.updated_by else "",
        custom_fields=dict_to_struct(contact.custom_fields),
        company_ids=[str(c) for c in company_ids],
        external_id=contact.external_id or "",
    )


def create_from_proto(request: contacts_pb2.CreateContactRequest) -> ContactCreate:
    return ContactCreate(
        first_name=request.first_name,
        last_name=request.last_name,
        email=request.email,
        phone=request.phone,
        owner_id=optional_uuid(request.owner_id, field="owner_id"),
        custom_fields=struct_to_dict(request.custom_fields),
        company_ids=id_list(list(request.company_ids), field="company_ids"),
        allow_duplicate=request.allow_duplicate,
        external_id=request.external_id,
    )


def update_from_proto(request: contacts_pb2.UpdateContactRequest) -> ContactUpdate:
    changes: dict[str, object] = {
        name: getattr(request, name)
        for name in CONTACT_FIELDS
        if request.HasField(name)  # type: ignore[arg-type]  # names from CONTACT_FIELDS
    }
    if "owner_id" in changes:
        changes["owner_id"] = optional_uuid(request.owner_id, field="owner_id")
    return ContactUpdate(
        changes=changes,
        expected_version=request.expected_version if request.HasField("expected_version") else None,
        custom_fields=struct_to_dict(request.custom_fields),
        company_ids=(
            id_list(list(request.company_ids.ids), field="company_ids")
            if request.HasField("company_ids")
            else None
        ),
        allow_duplicate=request.allow_duplicate,
    )
