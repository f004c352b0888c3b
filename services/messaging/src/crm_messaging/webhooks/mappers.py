"""Webhook rows <-> protobuf messages, nothing else."""

from __future__ import annotations

from crm.messaging.v1 import webhooks_pb2 as pb
from crm_kit.timestamps import to_timestamp
from crm_messaging.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from crm_messaging.webhooks.catalog import PublicEventType


def endpoint_to_proto(endpoint: WebhookEndpoint) -> pb.Endpoint:
    message = pb.Endpoint(
        id=str(endpoint.id),
        url=endpoint.url,
        description=endpoint.description,
        event_types=endpoint.event_types,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        created_at=to_timestamp(endpoint.created_at),
        updated_at=to_timestamp(endpoint.updated_at),
    )
    if endpoint.disabled_at is not None:
        message.disabled_at.CopyFrom(to_timestamp(endpoint.disabled_at))
    if endpoint.failing_since is not None:
        message.failing_since.CopyFrom(to_timestamp(endpoint.failing_since))
    if endpoint.previous_secret_expires_at is not None:
        message.previous_secret_expires_at.CopyFrom(
            to_timestamp(endpoint.previous_secret_expires_at)
        )
    return message


def attempt_to_proto(attempt: WebhookAttempt) -> pb.DeliveryAttempt:
    return pb.DeliveryAttempt(
        number=attempt.number,
        attempted_at=to_timestamp(attempt.attempted_at),
        status_code=attempt.status_code or 0,
        latency_ms=attempt.latency_ms,
        error=attempt.error,
        response_snippet=attempt.response_snippet,
    )


def delivery_to_proto(
    delivery: WebhookDelivery, attempts: list[WebhookAttempt] | None = None
) -> pb.Delivery:
    message = pb.Delivery(
        id=str(delivery.id),
        endpoint_id=str(delivery.endpoint_id),
        event_id=str(delivery.event_id),
        event_type=delivery.event_type,
        status=delivery.status,
        attempt_count=delivery.attempt_count,
        created_at=to_timestamp(delivery.created_at),
        updated_at=to_timestamp(delivery.updated_at),
        last_status_code=delivery.last_status_code or 0,
        last_error=delivery.last_error,
    )
    if delivery.status == "pending":
        message.next_attempt_at.CopyFrom(to_timestamp(delivery.next_attempt_at))
    if attempts is not None:
        message.attempts.extend(attempt_to_proto(a) for a in attempts)
        message.payload = delivery.payload.decode()
    return message


def event_type_to_proto(event_type: PublicEventType) -> pb.EventType:
    return pb.EventType(name=event_type.name, description=event_type.description)
