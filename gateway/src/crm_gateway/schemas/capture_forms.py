"""Request and response bodies of capture forms, their counts and public submissions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel

InputType = Literal["text", "email", "tel", "url", "number", "textarea"]
ATTRIBUTION_DESCRIPTION = (
    "First-touch attribution: the UTM parameters, referrer and landing URL the visitor's "
    "browser kept from their first page of the session"
)


class CaptureFormField(ApiModel):
    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="The input's name in the submitted form",
        examples=["work_email"],
    )
    label: str = Field(default="", max_length=200, examples=["Work email"])
    input_type: InputType = "text"
    required: bool = False
    maps_to: str = Field(
        min_length=1,
        max_length=120,
        description="A lead field (first_name, last_name, email, phone, company_name, "
        "domain) or `custom_fields.<key>` of a lead custom field",
        examples=["email"],
    )


class CaptureFormSettings(ApiModel):
    """A form's settings; a form needs a required field mapped to `email`."""

    name: str = Field(min_length=1, max_length=200, examples=["Spring offer"])
    fields: list[CaptureFormField] = Field(min_length=1, max_length=30)
    allowed_origins: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Exact origins (scheme://host[:port]) whose pages may embed the form "
        "and submit it; the hosted page needs none",
        examples=[["https://www.shop.example"]],
    )
    redirect_url: str = Field(
        default="", max_length=2048, description="After a submission, send the visitor here"
    )
    thank_you_message: str = Field(
        default="", max_length=2000, description="Shown after a submission without redirect"
    )
    double_opt_in: bool = Field(
        default=False,
        description="Confirm by email before the lead counts. Email messaging is not "
        "available yet, so `true` is refused with 422 `messaging_unavailable`",
    )
    honeypot_field: str = Field(
        default="",
        max_length=64,
        description="A hidden input bots fill and people leave empty (default website_url); "
        "a submission that fills it is answered like any other and dropped",
    )
    enabled: bool = Field(default=True, description="A disabled form's key answers 404")


class CaptureForm(CaptureFormSettings):
    id: str
    public_key: str = Field(description="What the hosted page and the snippet carry")
    hosted_url: str = Field(description="The hosted landing page, `/f/{public_key}`")
    embed_script_url: str = Field(description="The snippet to paste on an allowed origin")
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class CaptureFormList(ApiModel):
    data: list[CaptureForm]


class CaptureFormStats(ApiModel):
    form_id: str
    submissions: int
    leads_created: int
    attached_to_leads: int
    attached_to_contacts: int


class CampaignStats(ApiModel):
    utm_source: str
    utm_medium: str
    utm_campaign: str
    submissions: int
    leads_created: int
    attached: int = Field(description="Submissions recorded against an existing lead or contact")


class CampaignStatsList(ApiModel):
    data: list[CampaignStats]


class Attribution(ApiModel):
    utm_source: str = Field(default="", max_length=2048)
    utm_medium: str = Field(default="", max_length=2048)
    utm_campaign: str = Field(default="", max_length=2048)
    utm_term: str = Field(default="", max_length=2048)
    utm_content: str = Field(default="", max_length=2048)
    referrer: str = Field(default="", max_length=4096)
    landing_url: str = Field(default="", max_length=4096)


class PublicSubmission(ApiModel):
    values: dict[str, str] = Field(
        max_length=60,
        description="The form's inputs by name (and the honeypot's, which must stay empty)",
        examples=[{"work_email": "lin@prospect.example", "given_name": "Lin"}],
    )
    attribution: Attribution = Field(
        default_factory=Attribution, description=ATTRIBUTION_DESCRIPTION
    )


class SubmissionAccepted(ApiModel):
    status: Literal["accepted"] = "accepted"
    redirect_url: str | None = Field(description="Where to send the visitor, if anywhere")
    message: str = Field(description="The thank-you message when there is no redirect")
