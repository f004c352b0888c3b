"""Request and response bodies of deals."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel
from crm_gateway.schemas.external_ids import ExternalId, ExternalIdChange, ExternalIdInput
from crm_gateway.schemas.records import CUSTOM_FIELDS_DESCRIPTION

AMOUNT_MAX = 2**63 - 1
DealStatus = Literal["open", "won", "lost"]
AMOUNT_DESCRIPTION = "Integer minor units of `currency` (cents: 1999 is 19.99 EUR)"


class DealCreate(ApiModel):
    name: str = Field(min_length=1, max_length=200, examples=["Acme renewal 2027"])
    amount_minor: int = Field(default=0, ge=0, le=AMOUNT_MAX, description=AMOUNT_DESCRIPTION)
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217", examples=["EUR"])
    expected_close_date: date | None = Field(default=None, examples=["2027-03-31"])
    owner_id: str | None = Field(default=None, description="Defaults to the caller")
    pipeline_id: str | None = Field(
        default=None, description="Absent: the stage's pipeline, or the default pipeline"
    )
    stage_id: str | None = Field(default=None, description="Absent: the pipeline's first stage")
    probability: int | None = Field(
        default=None, ge=0, le=100, description="Absent: the stage's probability"
    )
    company_id: str | None = None
    contact_ids: list[str] = Field(default_factory=list, max_length=50)
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, description=CUSTOM_FIELDS_DESCRIPTION
    )
    external_id: ExternalIdInput = ""


class DealUpdate(ApiModel):
    """Only the fields present change. Setting `stage_id` moves the deal (stage history,
    status from the stage's kind, probability from the stage unless sent too)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    amount_minor: int | None = Field(default=None, ge=0, le=AMOUNT_MAX)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    expected_close_date: date | None = None
    owner_id: str | None = None
    stage_id: str | None = None
    probability: int | None = Field(default=None, ge=0, le=100)
    status: DealStatus | None = None
    company_id: str | None = Field(default=None, description="An empty string detaches it")
    contact_ids: list[str] | None = Field(
        default=None, max_length=50, description="Present: the deal's contacts become these"
    )
    custom_fields: dict[str, Any] | None = Field(
        default=None, description=CUSTOM_FIELDS_DESCRIPTION
    )
    external_id: ExternalIdChange = None


class DealMove(ApiModel):
    stage_id: str = Field(min_length=1, max_length=100, description="A stage of any pipeline")


class Deal(ApiModel):
    id: str
    name: str
    amount_minor: int = Field(description=AMOUNT_DESCRIPTION)
    currency: str
    expected_close_date: date | None
    owner_id: str | None
    pipeline_id: str
    stage_id: str
    probability: int
    status: DealStatus
    company_id: str | None
    contact_ids: list[str]
    stage_entered_at: datetime
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None
    custom_fields: dict[str, Any]
    external_id: ExternalId = None


class DealList(ApiModel):
    data: list[Deal]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class StageChange(ApiModel):
    from_stage_id: str | None = Field(description="Null for the first entry (the creation)")
    to_stage_id: str
    moved_at: datetime
    moved_by: str | None
    time_in_previous_stage_seconds: int | None = Field(
        description="How long the deal was in `from_stage_id`"
    )


class StageHistory(ApiModel):
    data: list[StageChange]
