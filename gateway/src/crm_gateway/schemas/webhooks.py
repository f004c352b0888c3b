"""Request and response bodies of webhooks: endpoints, deliveries and their attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from crm_gateway.schemas import ApiModel

EVENT_TYPES_DESCRIPTION = (
    "Public event types (`contact.created`), an entity's wildcard (`deal.*`) or `*` for "
    "all; see `GET /v1/webhooks/event-types`. An unknown one is refused (422 "
    "`unknown_event_type`)."
)
URL_DESCRIPTION = (
    "An HTTPS URL without credentials whose host resolves to public addresses only "
    "(private, loopback, link-local and metadata addresses are refused: 422 "
    "`forbidden_address`). The host is checked again at every delivery."
)
DeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookEndpointCreate(ApiModel):
    url: str = Field(
        min_length=1,
        max_length=2048,
        description=URL_DESCRIPTION,
        examples=["https://hooks.example.com/crm"],
    )
    description: str = Field(default="", max_length=500, examples=["Sync to the data warehouse"])
    event_types: list[str] = Field(
        min_length=1,
        max_length=50,
        description=EVENT_TYPES_DESCRIPTION,
        examples=[["contact.*", "deal.stage_changed"]],
    )


class WebhookEndpointUpdate(ApiModel):
    url: str | None = Field(
        default=None, min_length=1, max_length=2048, description=URL_DESCRIPTION
    )
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] | None = Field(
        default=None, min_length=1, max_length=50, description=EVENT_TYPES_DESCRIPTION
    )
    enabled: bool | None = Field(
        default=None,
        description="false disables the endpoint (its pending deliveries end as failed); "
        "true re-enables it, also after it was disabled for failing",
    )


class WebhookEndpoint(ApiModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None = Field(
        description="`disabled_by_user`, or `failing` (every delivery failed for days); "
        "null while enabled"
    )
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="Since when every delivery has failed; null while deliveries succeed"
    )
    previous_secret_expires_at: datetime | None = Field(
        description="Until then deliveries are also signed with the secret before the last rotation"
    )
    created_at: datetime
    updated_at: datetime


class CreatedWebhookEndpoint(WebhookEndpoint):
    secret: str = Field(
        description="The signing secret (`whsec_...`), shown this once: store it now. Each "
        "delivery carries `webhook-id`, `webhook-timestamp` and `webhook-signature` "
        "(`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, Standard Webhooks)."
    )


class WebhookEndpointList(ApiModel):
    data: list[WebhookEndpoint]


class SecretRotation(ApiModel):
    overlap_seconds: int | None = Field(
        default=None,
        ge=0,
        le=604_800,
        description="How long the previous secret keeps signing beside the new one "
        "(both signatures are sent); 0 retires it at once. Default: 86400 (24 h)",
    )


class WebhookDeliveryAttempt(ApiModel):
    number: int
    attempted_at: datetime
    status_code: int | None = Field(description="null when no HTTP answer came")
    latency_ms: int
    error: str | None = Field(
        description="`timeout`, `connection_error`, `tls_error`, `blocked_address` or "
        "`http_status`; null on success"
    )
    response_snippet: str = Field(description="The start of the answer's body (truncated)")


class WebhookDelivery(ApiModel):
    id: str
    endpoint_id: str
    event_id: str = Field(description="The `webhook-id` header: the same on every retry and replay")
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next")
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class WebhookDeliveryDetail(WebhookDelivery):
    attempts: list[WebhookDeliveryAttempt]
    payload: str = Field(description="The exact body every attempt sends")


class WebhookDeliveryList(ApiModel):
    data: list[WebhookDelivery]
    next_cursor: str | None


class WebhookEventType(ApiModel):
    name: str
    description: str


class WebhookEventTypeList(ApiModel):
    data: list[WebhookEventType]
