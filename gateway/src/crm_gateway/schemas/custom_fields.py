"""Request and response bodies of custom field definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel

FieldType = Literal[
    "text",
    "long_text",
    "number",
    "decimal",
    "currency",
    "date",
    "datetime",
    "boolean",
    "single_select",
    "multi_select",
    "email",
    "phone",
    "url",
    "relation",
]
ObjectType = Literal["contacts", "companies", "leads", "deals"]


class SelectOption(ApiModel):
    value: str = Field(min_length=1, max_length=200, examples=["gold"])
    label: str = Field(default="", max_length=200, examples=["Gold"])


class CustomFieldCreate(ApiModel):
    key: str = Field(
        min_length=1,
        max_length=64,
        description="Slug (a-z, then a-z, 0-9, _) under which records carry the value; "
        "unique per object type, never changes",
        examples=["tier"],
    )
    label: str = Field(min_length=1, max_length=200, examples=["Customer tier"])
    field_type: FieldType = Field(examples=["single_select"])
    required: bool = False
    is_unique: bool = False
    default_value: Any = Field(default=None, description="Applied when a record is created")
    options: list[SelectOption] = Field(
        default_factory=list, max_length=200, description="Select fields only"
    )
    relation_object_type: ObjectType | None = Field(
        default=None, description="Relation fields only: the type of the linked record"
    )
    position: int = Field(default=0, ge=0, le=10_000)


class CustomFieldUpdate(ApiModel):
    """Only the fields present change. Adding options is always allowed; removing one that
    a record uses is 409. A type changes only without touching stored values (text to
    long_text; email, phone, url or single_select to text or long_text), else 422."""

    label: str | None = Field(default=None, min_length=1, max_length=200)
    field_type: FieldType | None = None
    required: bool | None = None
    is_unique: bool | None = None
    default_value: Any = Field(default=None, description="Present (even null) to change")
    options: list[SelectOption] | None = Field(default=None, max_length=200)
    position: int | None = Field(default=None, ge=0, le=10_000)


class CustomField(ApiModel):
    id: str
    object_type: str
    key: str
    label: str
    field_type: str
    required: bool
    is_unique: bool
    default_value: Any
    options: list[SelectOption]
    relation_object_type: str | None
    position: int
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None


class CustomFieldList(ApiModel):
    data: list[CustomField]
