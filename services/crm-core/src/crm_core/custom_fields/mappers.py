"""Custom field definitions <-> protobuf, nothing else."""

from __future__ import annotations

import uuid
from typing import Any

from google.protobuf import json_format, struct_pb2

from crm.crm_core.v1 import custom_fields_pb2
from crm_core.custom_fields.schemas import (
    UNSET,
    CustomFieldCreate,
    CustomFieldUpdate,
    SelectOption,
)
from crm_core.models import CustomFieldDefinition
from crm_kit.timestamps import to_timestamp
from crm_kit.validation import resource_id


def parse_id(value: str) -> uuid.UUID:
    return resource_id(value, resource="custom_field")


def _value(value: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return message


def to_proto(definition: CustomFieldDefinition) -> custom_fields_pb2.CustomField:
    return custom_fields_pb2.CustomField(
        id=str(definition.id),
        object_type=definition.object_type,
        key=definition.key,
        label=definition.label,
        field_type=definition.field_type,
        required=definition.required,
        is_unique=definition.is_unique,
        default_value=_value(definition.default_value),
        options=[custom_fields_pb2.SelectOption(**o) for o in definition.options],
        relation_object_type=definition.relation_object_type or "",
        position=definition.position,
        version=definition.version,
        created_at=to_timestamp(definition.created_at),
        updated_at=to_timestamp(definition.updated_at),
        created_by=str(definition.created_by) if definition.created_by else "",
        updated_by=str(definition.updated_by) if definition.updated_by else "",
    )


def _options(options: list[custom_fields_pb2.SelectOption]) -> list[SelectOption]:
    return [SelectOption(value=o.value, label=o.label) for o in options]


def create_from_proto(request: custom_fields_pb2.CreateCustomFieldRequest) -> CustomFieldCreate:
    return CustomFieldCreate(
        object_type=request.object_type,
        key=request.key,
        label=request.label,
        field_type=request.field_type,
        required=request.required,
        is_unique=request.is_unique,
        default_value=(
            json_format.MessageToDict(request.default_value)
            if request.HasField("default_value")
            else None
        ),
        options=_options(list(request.options)),
        relation_object_type=request.relation_object_type,
        position=request.position,
    )


def update_from_proto(request: custom_fields_pb2.UpdateCustomFieldRequest) -> CustomFieldUpdate:
    return CustomFieldUpdate(
        label=request.label if request.HasField("label") else None,
        field_type=request.field_type if request.HasField("field_type") else None,
        required=request.required if request.HasField("required") else None,
        is_unique=request.is_unique if request.HasField("is_unique") else None,
        default_value=(
            json_format.MessageToDict(request.default_value)
            if request.HasField("default_value")
            else UNSET
        ),
        options=_options(list(request.options.options)) if request.HasField("options") else None,
        position=request.position if request.HasField("position") else None,
        expected_version=request.expected_version if request.HasField("expected_version") else None,
    )
