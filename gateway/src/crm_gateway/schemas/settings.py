"""Bodies of workspace settings: record visibility per role and object type."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel

ConfigurableRole = Literal["member", "viewer"]
Visibility = Literal["all", "own"]
VisibleType = Literal["contacts", "companies", "leads", "deals", "tasks"]


class VisibilityRule(ApiModel):
    role: ConfigurableRole
    object_type: VisibleType
    visibility: Visibility = Field(
        description="`all` records of the type, or only `own` (the caller is the owner; "
        "for tasks, the owner or the assignee)"
    )


class VisibilitySettings(ApiModel):
    rules: list[VisibilityRule]


class VisibilityUpdate(ApiModel):
    rules: list[VisibilityRule] = Field(min_length=1, max_length=50)
