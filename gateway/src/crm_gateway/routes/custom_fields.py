"""Custom field definitions per object type: create, list, read, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request, Response, Security
from google.protobuf import json_format

from crm.crm_core.v1 import custom_fields_pb2
from crm_gateway.routes.records import etag, parse_if_match, to_value
from crm_gateway.routes.responses import problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.custom_fields import (
    CustomField,
    CustomFieldCreate,
    CustomFieldList,
    CustomFieldUpdate,
    ObjectType,
    SelectOption,
)
from crm_gateway.security import authenticated
from crm_kit.context import RequestContext
from crm_kit.timestamps import to_datetime

router = PrefixedRouter(prefix="/v1/custom-fields", tags=["custom fields"])

FieldsReader = Annotated[RequestContext, Security(authenticated, scopes=["custom_fields:read"])]
FieldsWriter = Annotated[RequestContext, Security(authenticated, scopes=["custom_fields:write"])]

CHANGE_RULE = (
    "Label, position, required and the default change freely. Adding select options is "
    "always allowed; removing an option that a record uses is refused (409). The type "
    "changes only where stored values stay valid (text to long_text; email, phone, url "
    "or single_select to text or long_text), else 422. `is_unique` turns on only when no "
    "two records share a value (else 409). Send `If-Match` to refuse a stale write (412)."
)


def to_custom_field(message: custom_fields_pb2.CustomField) -> CustomField:
    return CustomField(
        id=message.id,
        object_type=message.object_type,
        key=message.key,
        label=message.label,
        field_type=message.field_type,
        required=message.required,
        is_unique=message.is_unique,
        default_value=json_value(message),
        options=[SelectOption(value=o.value, label=o.label) for o in message.options],
        relation_object_type=message.relation_object_type or None,
        position=message.position,
        version=message.version,
        created_at=to_datetime(message.created_at),
        updated_at=to_datetime(message.updated_at),
        created_by=message.created_by or None,
        updated_by=message.updated_by or None,
    )


def json_value(message: custom_fields_pb2.CustomField) -> object:
    return json_format.MessageToDict(message.default_value)


def _options(options: list[SelectOption]) -> list[custom_fields_pb2.SelectOption]:
    return [custom_fields_pb2.SelectOption(value=o.value, label=o.label) for o in options]


@router.post(
    "/{object_type}",
    status_code=201,
    summary="Define a custom field",
    description="Records of the object type then carry the value under `custom_fields.<key>`, "
    "validated on every write; `required` and `default_value` apply when a record is created.",
    response_model=CustomField,
    responses=problems(401, 403, 409, 422),
)
async def create_custom_field(
    object_type: ObjectType,
    body: CustomFieldCreate,
    request: Request,
    response: Response,
    caller: FieldsWriter,
) -> CustomField:
    create = custom_fields_pb2.CreateCustomFieldRequest(
        object_type=object_type,
        key=body.key,
        label=body.label,
        field_type=body.field_type,
        required=body.required,
        is_unique=body.is_unique,
        options=_options(body.options),
        relation_object_type=body.relation_object_type or "",
        position=body.position,
    )
    if body.default_value is not None:
        create.default_value.CopyFrom(to_value(body.default_value, field="default_value"))
    field = to_custom_field(
        await request.app.state.upstreams.custom_fields.CreateCustomField(create)
    )
    response.headers["Location"] = f"/v1/custom-fields/{object_type}/{field.id}"
    response.headers["ETag"] = etag(field.version)
    return field


@router.get(
    "/{object_type}",
    summary="List the custom fields of an object type, by position",
    response_model=CustomFieldList,
    responses=problems(401, 403, 422),
)
async def list_custom_fields(
    object_type: ObjectType, request: Request, caller: FieldsReader
) -> CustomFieldList:
    found = await request.app.state.upstreams.custom_fields.ListCustomFields(
        custom_fields_pb2.ListCustomFieldsRequest(object_type=object_type)
    )
    return CustomFieldList(data=[to_custom_field(f) for f in found.custom_fields])


@router.get(
    "/{object_type}/{field_id}",
    summary="Get a custom field",
    response_model=CustomField,
    responses=problems(401, 403, 404, 422),
)
async def get_custom_field(
    object_type: ObjectType,
    field_id: str,
    request: Request,
    response: Response,
    caller: FieldsReader,
) -> CustomField:
    field = to_custom_field(
        await request.app.state.upstreams.custom_fields.GetCustomField(
            custom_fields_pb2.GetCustomFieldRequest(object_type=object_type, id=field_id)
        )
    )
    response.headers["ETag"] = etag(field.version)
    return field


@router.patch(
    "/{object_type}/{field_id}",
    summary="Change a custom field",
    description=CHANGE_RULE,
    response_model=CustomField,
    responses=problems(401, 403, 404, 409, 412, 422),
)
async def update_custom_field(
    object_type: ObjectType,
    field_id: str,
    body: CustomFieldUpdate,
    request: Request,
    response: Response,
    caller: FieldsWriter,
    if_match: Annotated[str | None, Header()] = None,
) -> CustomField:
    update = custom_fields_pb2.UpdateCustomFieldRequest(object_type=object_type, id=field_id)
    for name in ("label", "field_type", "required", "is_unique", "position"):
        if getattr(body, name) is not None:
            setattr(update, name, getattr(body, name))
    if "default_value" in body.model_fields_set:
        update.default_value.CopyFrom(to_value(body.default_value, field="default_value"))
    if body.options is not None:
        update.options.options.extend(_options(body.options))
    expected = parse_if_match(if_match)
    if expected is not None:
        update.expected_version = expected
    field = to_custom_field(
        await request.app.state.upstreams.custom_fields.UpdateCustomField(update)
    )
    response.headers["ETag"] = etag(field.version)
    return field


@router.delete(
    "/{object_type}/{field_id}",
    status_code=204,
    summary="Delete a custom field",
    description="Its key is removed from every record of the object type.",
    responses=problems(401, 403, 404, 422),
)
async def delete_custom_field(
    object_type: ObjectType, field_id: str, request: Request, caller: FieldsWriter
) -> Response:
    await request.app.state.upstreams.custom_fields.DeleteCustomField(
        custom_fields_pb2.DeleteCustomFieldRequest(object_type=object_type, id=field_id)
    )
    return Response(status_code=204)
