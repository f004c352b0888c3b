"""Request and response bodies of API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, Field

from crm_gateway.schemas import ApiModel
from crm_kit.auth import api_key_format

SCOPES_DESCRIPTION = (
    f"What the key may do: {', '.join(f'`{s}`' for s in api_key_format.SCOPES)}. "
    "A write scope implies the read scope of the same family."
)


class ApiKeyCreate(ApiModel):
    name: str = Field(min_length=1, max_length=200, examples=["Zapier integration"])
    scopes: list[str] = Field(
        min_length=1,
        max_length=len(api_key_format.SCOPES),
        description=SCOPES_DESCRIPTION,
        examples=[["contacts:read", "contacts:write"]],
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="Optional, in the future; the key stops working then"
    )


class ApiKey(ApiModel):
    id: str
    name: str
    display_prefix: str = Field(
        description="The key's first characters, to recognise it; the key itself is "
        "never shown again",
        examples=["crm_Ab3x"],
    )
    scopes: list[str]
    expires_at: datetime | None
    last_used_at: datetime | None
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None


class CreatedApiKey(ApiKey):
    key: str = Field(
        description="The key, shown this once: store it now. Send it as "
        "`Authorization: Bearer crm_...`",
    )


class ApiKeyList(ApiModel):
    data: list[ApiKey]
