"""Webhooks: owners and admins subscribe HTTPS endpoints to events and read the delivery log.

Messaging checks the role itself (403 `role_not_allowed` for members and viewers); API
keys are refused here (no key scope covers webhooks).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response

from crm.messaging.v1 import webhooks_pb2 as pb
from crm_gateway.routes.responses import no_store, problems
from crm_gateway.routes.router import PrefixedRouter
from crm_gateway.schemas.webhooks import (
    CreatedWebhookEndpoint,
    DeliveryStatus,
    SecretRotation,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookDeliveryDetail,
    WebhookDeliveryList,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointList,
    WebhookEndpointUpdate,
    WebhookEventType,
    WebhookEventTypeList,
)
from crm_gateway.security import Caller
from crm_kit.timestamps import optional_datetime, to_datetime

router = PrefixedRouter(prefix="/v1/webhooks", tags=["webhooks"])

SIGNING = (
    "Every delivery is a POST of `{id, type, created_at, tenant_id, data}` signed per "
    "Standard Webhooks: `webhook-id` (the event id, stable across retries), "
    "`webhook-timestamp`, `webhook-signature`. Timeouts, connection errors, 5xx, 408 and "
    "429 are retried with exponential backoff and jitter for at least 24 hours; an endpoint "
    "whose deliveries all fail for 5 days is disabled."
)


def to_endpoint(message: pb.Endpoint) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=message.id,
        url=message.url,
        description=message.description,
        event_types=list(message.event_types),
        enabled=message.enabled,
        disabled_reason=message.disabled_reason or None,
        disabled_at=optional_datetime(message, "disabled_at"),
        failing_since=optional_datetime(message, "failing_since"),
        previous_secret_expires_at=optional_datetime(message, "previous_secret_expires_at"),
        created_at=to_datetime(message.created_at),
        updated_at=to_datetime(message.updated_at),
    )


def to_created(message: pb.CreatedEndpoint) -> CreatedWebhookEndpoint:
    return CreatedWebhookEndpoint(
        **to_endpoint(message.endpoint).model_dump(), secret=message.secret
    )


def _delivery_fields(message: pb.Delivery) -> dict[str, object]:
    return {
        "id": message.id,
        "endpoint_id": message.endpoint_id,
        "event_id": message.event_id,
        "event_type": message.event_type,
        "status": message.status,
        "attempt_count": message.attempt_count,
        "next_attempt_at": optional_datetime(message, "next_attempt_at"),
        "last_status_code": message.last_status_code or None,
        "last_error": message.last_error or None,
        "created_at": to_datetime(message.created_at),
        "updated_at": to_datetime(message.updated_at),
    }


def to_delivery_detail(message: pb.Delivery) -> WebhookDeliveryDetail:
    return WebhookDeliveryDetail.model_validate(
        {
            **_delivery_fields(message),
            "payload": message.payload,
            "attempts": [
                WebhookDeliveryAttempt(
                    number=a.number,
                    attempted_at=to_datetime(a.attempted_at),
                    status_code=a.status_code or None,
                    latency_ms=a.latency_ms,
                    error=a.error or None,
                    response_snippet=a.response_snippet,
                )
                for a in message.attempts
            ],
        }
    )


@router.post(
    "/endpoints",
    dependencies=[Depends(no_store)],
    status_code=201,
    summary="Subscribe an HTTPS endpoint to events (owners and admins); the secret is shown once",
    description=SIGNING,
    response_model=CreatedWebhookEndpoint,
    responses=problems(401, 403, 409, 422),
)
async def create_endpoint(
    body: WebhookEndpointCreate, request: Request, response: Response, caller: Caller
) -> CreatedWebhookEndpoint:
    created = await request.app.state.upstreams.webhooks.CreateEndpoint(
        pb.CreateEndpointRequest(
            url=body.url, description=body.description, event_types=body.event_types
        )
    )
    response.headers["Location"] = f"/v1/webhooks/endpoints/{created.endpoint.id}"
    return to_created(created)


@router.get(
    "/endpoints",
    summary="List the organization's webhook endpoints",
    response_model=WebhookEndpointList,
    responses=problems(401, 403),
)
async def list_endpoints(request: Request, caller: Caller) -> WebhookEndpointList:
    found = await request.app.state.upstreams.webhooks.ListEndpoints(pb.ListEndpointsRequest())
    return WebhookEndpointList(data=[to_endpoint(e) for e in found.endpoints])


@router.get(
    "/endpoints/{endpoint_id}",
    summary="Get a webhook endpoint (never its secret)",
    response_model=WebhookEndpoint,
    responses=problems(401, 403, 404),
)
async def get_endpoint(endpoint_id: str, request: Request, caller: Caller) -> WebhookEndpoint:
    found = await request.app.state.upstreams.webhooks.GetEndpoint(pb.EndpointId(id=endpoint_id))
    return to_endpoint(found)


@router.patch(
    "/endpoints/{endpoint_id}",
    summary="Change an endpoint's URL, description or event types, or disable/re-enable it",
    response_model=WebhookEndpoint,
    responses=problems(401, 403, 404, 409, 422),
)
async def update_endpoint(
    endpoint_id: str, body: WebhookEndpointUpdate, request: Request, caller: Caller
) -> WebhookEndpoint:
    update = pb.UpdateEndpointRequest(id=endpoint_id)
    if body.url is not None:
        update.url = body.url
    if body.description is not None:
        update.description = body.description
    if body.event_types is not None:
        update.set_event_types = True
        update.event_types.extend(body.event_types)
    if body.enabled is not None:
        update.enabled = body.enabled
    return to_endpoint(await request.app.state.upstreams.webhooks.UpdateEndpoint(update))


@router.delete(
    "/endpoints/{endpoint_id}",
    status_code=204,
    summary="Delete a webhook endpoint with its delivery log",
    responses=problems(401, 403, 404),
)
async def delete_endpoint(endpoint_id: str, request: Request, caller: Caller) -> Response:
    await request.app.state.upstreams.webhooks.DeleteEndpoint(pb.EndpointId(id=endpoint_id))
    return Response(status_code=204)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    dependencies=[Depends(no_store)],
    summary="Rotate the signing secret; the new one is shown once",
    description="During the overlap (default 24 h) deliveries carry a signature with each "
    "secret, so the receiver can switch without missing one.",
    response_model=CreatedWebhookEndpoint,
    responses=problems(401, 403, 404, 409, 422),
)
async def rotate_secret(
    endpoint_id: str,
    request: Request,
    caller: Caller,
    body: SecretRotation | None = None,
) -> CreatedWebhookEndpoint:
    rotation = pb.RotateSecretRequest(id=endpoint_id)
    if body is not None and body.overlap_seconds is not None:
        rotation.overlap_seconds = body.overlap_seconds
    rotated = await request.app.state.upstreams.webhooks.RotateSecret(rotation)
    return to_created(rotated)


@router.get(
    "/endpoints/{endpoint_id}/deliveries",
    summary="The endpoint's delivery log, newest first",
    response_model=WebhookDeliveryList,
    responses=problems(401, 403, 404, 422),
)
async def list_deliveries(
    endpoint_id: str,
    request: Request,
    caller: Caller,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> WebhookDeliveryList:
    page = await request.app.state.upstreams.webhooks.ListDeliveries(
        pb.ListDeliveriesRequest(
            endpoint_id=endpoint_id, status=status or "", limit=limit, cursor=cursor or ""
        )
    )
    return WebhookDeliveryList(
        data=[WebhookDelivery.model_validate(_delivery_fields(d)) for d in page.deliveries],
        next_cursor=page.next_cursor or None,
    )


@router.get(
    "/deliveries/{delivery_id}",
    summary="A delivery with every attempt (time, status, latency, error) and its body",
    response_model=WebhookDeliveryDetail,
    responses=problems(401, 403, 404),
)
async def get_delivery(delivery_id: str, request: Request, caller: Caller) -> WebhookDeliveryDetail:
    found = await request.app.state.upstreams.webhooks.GetDelivery(pb.DeliveryId(id=delivery_id))
    return to_delivery_detail(found)


@router.post(
    "/deliveries/{delivery_id}/replay",
    status_code=202,
    summary="Send a delivery again (same event id and body, a new attempt)",
    response_model=WebhookDeliveryDetail,
    responses=problems(401, 403, 404, 409, 422),
)
async def replay_delivery(
    delivery_id: str, request: Request, caller: Caller
) -> WebhookDeliveryDetail:
    replayed = await request.app.state.upstreams.webhooks.ReplayDelivery(
        pb.DeliveryId(id=delivery_id)
    )
    return to_delivery_detail(replayed)


@router.get(
    "/event-types",
    summary="The public event types endpoints may subscribe to",
    response_model=WebhookEventTypeList,
    responses=problems(401, 403),
)
async def list_event_types(request: Request, caller: Caller) -> WebhookEventTypeList:
    found = await request.app.state.upstreams.webhooks.ListEventTypes(pb.ListEventTypesRequest())
    return WebhookEventTypeList(
        data=[WebhookEventType(name=t.name, description=t.description) for t in found.event_types]
    )
