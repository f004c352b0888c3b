"""Request and response bodies of leads and their conversion."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel
from crm_gateway.schemas.deals import AMOUNT_DESCRIPTION, AMOUNT_MAX
from crm_gateway.schemas.external_ids import ExternalId, ExternalIdChange, ExternalIdInput
from crm_gateway.schemas.records import CUSTOM_FIELDS_DESCRIPTION

LeadSource = Literal["web_form", "import", "referral", "manual", "api", "event", "other"]
WritableStatus = Literal["new", "contacted", "qualified", "unqualified"]
LeadStatus = Literal["new", "contacted", "qualified", "unqualified", "converted"]


class LeadCreate(ApiModel):
    first_name: str = Field(default="", max_length=200, examples=["Lin"])
    last_name: str = Field(default="", max_length=200, examples=["Ho"])
    email: str = Field(default="", max_length=320, examples=["lin@prospect.example"])
    phone: str = Field(default="", max_length=50, examples=["+1 555 0100"])
    company_name: str = Field(default="", max_length=200, examples=["Prospect Ltd"])
    domain: str = Field(
        default="",
        max_length=2048,
        description="The company's website; stored as a lowercase host",
        examples=["https://prospect.example"],
    )
    source: LeadSource = "manual"
    status: WritableStatus = "new"
    owner_id: str | None = Field(default=None, description="Defaults to the caller")
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, description=CUSTOM_FIELDS_DESCRIPTION
    )
    external_id: ExternalIdInput = ""


class LeadUpdate(ApiModel):
    """Only the fields present change; `converted` is set by conversion only."""

    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    company_name: str | None = Field(default=None, max_length=200)
    domain: str | None = Field(default=None, max_length=2048)
    source: LeadSource | None = None
    status: WritableStatus | None = None
    owner_id: str | None = None
    custom_fields: dict[str, Any] | None = Field(
        default=None, description=CUSTOM_FIELDS_DESCRIPTION
    )
    external_id: ExternalIdChange = None


class Lead(ApiModel):
    id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    company_name: str
    domain: str
    source: str
    status: str
    owner_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None
    custom_fields: dict[str, Any]
    converted_at: datetime | None
    converted_contact_id: str | None
    converted_company_id: str | None
    converted_deal_id: str | None
    utm_source: str = Field(default="", description="First touch, from a capture form")
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    referrer: str = ""
    landing_url: str = ""
    capture_form_id: str | None = Field(
        default=None, description="The capture form of the first touch"
    )
    external_id: ExternalId = None


class LeadList(ApiModel):
    data: list[Lead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class ConvertDeal(ApiModel):
    name: str = Field(default="", max_length=200, description="Empty: the company's or lead's")
    amount_minor: int = Field(default=0, ge=0, le=AMOUNT_MAX, description=AMOUNT_DESCRIPTION)
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    pipeline_id: str | None = Field(default=None, description="Absent: the default pipeline")
    stage_id: str | None = Field(default=None, description="Absent: the pipeline's first stage")
    expected_close_date: date | None = None


class LeadConvert(ApiModel):
    create_company: bool = Field(
        default=False,
        description="Reuse the company with the lead's domain, else create one from the "
        "lead's company name and domain",
    )
    deal: ConvertDeal | None = Field(default=None, description="Present: create this deal too")
    owner_id: str | None = Field(
        default=None, description="Owner of what is created; absent: the lead's owner"
    )


class LeadConversion(ApiModel):
    lead: Lead
    contact_id: str
    contact_created: bool = Field(description="False: an existing contact with the email")
    company_id: str | None
    company_created: bool
    deal_id: str | None
