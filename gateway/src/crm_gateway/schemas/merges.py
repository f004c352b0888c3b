"""Body of a merge: which record goes into the survivor named by the path."""

from __future__ import annotations

from pydantic import Field

from crm_gateway.schemas import ApiModel


class MergeRequest(ApiModel):
    merged_id: str = Field(
        min_length=1, max_length=100, description="The record merged into the survivor"
    )
