"""Request and response bodies of companies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from crm_gateway.schemas import ApiModel
from crm_gateway.schemas.external_ids import ExternalId, ExternalIdChange, ExternalIdInput
from crm_gateway.schemas.records import CUSTOM_FIELDS_DESCRIPTION


class CompanyCreate(ApiModel):
    name: str = Field(min_length=1, max_length=200, examples=["Acme Inc."])
    domain: str = Field(
        default="",
        max_length=2048,
        description="Stored as a lowercase host without scheme, path or `www.`",
        examples=["https://www.acme.example"],
    )
    industry: str = Field(default="", max_length=100, examples=["Retail"])
    owner_id: str | None = Field(default=None, description="Defaults to the caller")
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, description=CUSTOM_FIELDS_DESCRIPTION
    )
    allow_duplicate: bool = Field(
        default=False,
        description="Create even when a company with the same domain exists (else 409 "
        "with the candidates)",
    )
    external_id: ExternalIdInput = ""


class CompanyUpdate(ApiModel):
    """Only the fields present are changed; a custom field set to null is cleared."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=2048)
    industry: str | None = Field(default=None, max_length=100)
    owner_id: str | None = None
    custom_fields: dict[str, Any] | None = Field(
        default=None, description=CUSTOM_FIELDS_DESCRIPTION
    )
    allow_duplicate: bool = Field(
        default=False,
        description="Save even when another company has the changed domain (else 409 "
        "with the candidates)",
    )
    external_id: ExternalIdChange = None


class Company(ApiModel):
    id: str
    name: str
    domain: str
    industry: str
    owner_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None
    custom_fields: dict[str, Any]
    external_id: ExternalId = None


class CompanyList(ApiModel):
    data: list[Company]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )
