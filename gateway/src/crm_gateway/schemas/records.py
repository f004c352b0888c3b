"""Request bodies shared by every record type: search, filters and sorts."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from crm_gateway.schemas import ApiModel

OPERATORS = Literal[
    "eq",
    "neq",
    "lt",
    "lte",
    "gt",
    "gte",
    "between",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "is_empty",
    "is_not_empty",
]

FIELD_DESCRIPTION = (
    "A standard field (`email`, `external_id`), a custom field (`custom_fields.<key>`) or a "
    "field of a linked record (`companies.industry`, `companies.custom_fields.<key>` on "
    "contacts; `contacts.email` on companies)"
)
CUSTOM_FIELDS_DESCRIPTION = (
    "Values of the tenant's custom fields by key (see `/v1/custom-fields/{object_type}`). "
    "Currency: `{amount_minor, currency}`; date `YYYY-MM-DD`; datetime ISO 8601 with offset; "
    "multi select a list of option values; relation a record id."
)

ScalarValue = str | float | bool | int


class Filter(ApiModel):
    field: str = Field(
        min_length=1, max_length=200, description=FIELD_DESCRIPTION, examples=["email"]
    )
    operator: OPERATORS = Field(examples=["contains"])
    value: ScalarValue | None = Field(
        default=None,
        description="The operand of single-value operators (none for is_empty/is_not_empty)",
        examples=["@acme.example"],
    )
    values: list[ScalarValue] | None = Field(
        default=None,
        max_length=100,
        description="Operands of between (two), in and not_in; also a multi select's eq",
    )


class FilterGroup(ApiModel):
    filters: list[Filter] = Field(
        min_length=1, max_length=20, description="Every filter must hold (AND)"
    )


class SortSpec(ApiModel):
    field: str = Field(
        min_length=1,
        max_length=200,
        description="A standard or custom field, or `_score` (relevance) with a query",
        examples=["created_at"],
    )
    direction: Literal["asc", "desc"] = "asc"


class SearchRequest(ApiModel):
    """HubSpot-style search: a record matches when any group matches."""

    filter_groups: list[FilterGroup] = Field(
        default_factory=list,
        max_length=10,
        description="OR between groups; none matches every record",
    )
    sorts: list[SortSpec] = Field(
        default_factory=list,
        max_length=3,
        description="Ties are broken by id. Default: created_at ascending, or relevance "
        "(`_score` descending) with a query",
    )
    query: str = Field(
        default="",
        max_length=200,
        description="Full-text search over names, emails, phones and domains (ranked, "
        "matches partial words and small typos)",
        examples=["grace"],
    )
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(
        default=None, max_length=2000, description="`next_cursor` of the previous page"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "filter_groups": [
                        {
                            "filters": [
                                {
                                    "field": "companies.industry",
                                    "operator": "eq",
                                    "value": "Retail",
                                },
                                {"field": "custom_fields.score", "operator": "gte", "value": 50},
                            ]
                        }
                    ],
                    "sorts": [{"field": "custom_fields.score", "direction": "desc"}],
                    "limit": 20,
                }
            ]
        },
    )
