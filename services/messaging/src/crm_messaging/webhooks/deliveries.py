"""The delivery log: list and read deliveries with their attempts, replay one, and record
what an attempt gave (retry schedule, failure streak, automatic disabling)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import messaging_pb2
from crm_kit.db.models import utcnow
from crm_kit.errors import InvalidArgument, NotFound, PreconditionFailed
from crm_kit.timestamps import to_timestamp
from crm_messaging.events import WEBHOOK_ENDPOINT_DISABLED, outbox
from crm_messaging.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from crm_messaging.models.webhook import DELIVERY_STATUSES, FAILED, PENDING, SUCCEEDED
from crm_messaging.webhooks import endpoints
from crm_messaging.webhooks.retry import RetryPolicy
from crm_messaging.webhooks.sender import AttemptResult

MAX_PAGE = 100


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[WebhookDelivery]
    next_cursor: str


def _cursor(delivery: WebhookDelivery) -> str:
    raw = f"{delivery.created_at.isoformat()}|{delivery.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _position(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        position = datetime.fromisoformat(created), uuid.UUID(ident)
        if position[0].tzinfo is None:
            raise ValueError("a cursor's time carries its offset")
        return position
    except ValueError as exc:
        raise InvalidArgument(
            "the cursor is not valid", code="invalid_cursor", field="cursor"
        ) from exc


async def list_for_endpoint(
    session: AsyncSession, *, endpoint_id: uuid.UUID, status: str, limit: int, cursor: str
) -> DeliveryPage:
    """Newest first, optionally only one status."""
    await endpoints.get(session, endpoint_id=endpoint_id)
    if status and status not in DELIVERY_STATUSES:
        raise InvalidArgument(
            "status must be pending, succeeded or failed", code="invalid_status", field="status"
        )
    size = min(max(limit or 50, 1), MAX_PAGE)
    statement = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status:
        statement = statement.where(WebhookDelivery.status == status)
    if cursor:
        created, ident = _position(cursor)
        statement = statement.where(
            or_(
                WebhookDelivery.created_at < created,
                and_(WebhookDelivery.created_at == created, WebhookDelivery.id < ident),
            )
        )
    found = list(
        await session.scalars(
            statement.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(
                size + 1
            )
        )
    )
    more = len(found) > size
    page = found[:size]
    return DeliveryPage(page, _cursor(page[-1]) if more else "")


async def get(
    session: AsyncSession, *, delivery_id: uuid.UUID, lock: bool = False
) -> WebhookDelivery:
    statement = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    found = await session.scalar(statement.with_for_update() if lock else statement)
    if found is None:
        raise NotFound("webhook delivery not found", code="webhook_delivery_not_found")
    return found


async def attempts_of(session: AsyncSession, *, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    found = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.number)
    )
    return list(found)


async def replay(session: AsyncSession, *, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Sends the delivery again as soon as possible: the same event id and body, a new
    attempt in its log, and a fresh retry window."""
    delivery = await get(session, delivery_id=delivery_id, lock=True)
    endpoint = await endpoints.get(session, endpoint_id=delivery.endpoint_id)
    if not endpoint.enabled:
        raise PreconditionFailed(
            "the endpoint is disabled; enable it before replaying", code="endpoint_disabled"
        )
    now = utcnow()
    delivery.status = PENDING
    delivery.next_attempt_at = now
    delivery.window_started_at = now
    delivery.updated_at = now
    await session.flush()
    return delivery


def _disable_for_failing(session: AsyncSession, endpoint: WebhookEndpoint, now: datetime) -> None:
    endpoints.disable(endpoint, reason=endpoints.FAILING, now=now)
    event = messaging_pb2.WebhookEndpointDisabled(
        endpoint_id=str(endpoint.id),
        url=endpoint.url,
        disabled_at=to_timestamp(now),
        reason=endpoints.FAILING,
    )
    if endpoint.failing_since is not None:
        event.failing_since.CopyFrom(to_timestamp(endpoint.failing_since))
    outbox.add(
        session,
        event_type=WEBHOOK_ENDPOINT_DISABLED,
        tenant_id=endpoint.tenant_id,
        payload=event,
    )


async def record_attempt(
    session: AsyncSession,
    *,
    delivery_id: uuid.UUID,
    result: AttemptResult,
    attempted_at: datetime,
    policy: RetryPolicy,
    disable_after: timedelta,
) -> None:
    """Logs the attempt and decides what follows: done, retry at the next backoff, or
    failed. A failure extends the endpoint's failure streak; one that has lasted
    `disable_after` disables the endpoint and tells its admins (an event)."""
    now = utcnow()
    delivery = await session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    )
    if delivery is None:  # its endpoint was deleted meanwhile
        return
    endpoint = await endpoints.get(session, endpoint_id=delivery.endpoint_id, lock=True)
    delivery.attempt_count += 1
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=delivery.attempt_count,
            attempted_at=attempted_at,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
            response_snippet=result.snippet,
        )
    )
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    delivery.updated_at = now
    if result.succeeded:
        delivery.status = SUCCEEDED
        endpoint.failing_since = None
    else:
        endpoint.failing_since = endpoint.failing_since or attempted_at
        retry = result.retryable and not policy.gives_up(
            delivery.attempt_count, window_started_at=delivery.window_started_at, now=now
        )
        if retry:
            delivery.status = PENDING
            delivery.next_attempt_at = now + policy.delay(
                delivery.attempt_count, retry_after=result.retry_after
            )
        else:
            delivery.status = FAILED
        if endpoint.enabled and now - endpoint.failing_since >= disable_after:
            _disable_for_failing(session, endpoint, now)
            await session.flush()
            await endpoints.fail_pending(
                session, endpoint_id=endpoint.id, reason=endpoints.ENDPOINT_DISABLED
            )
    await session.flush()
