"""Webhook endpoints: subscribe, change, disable and re-enable, delete, rotate the secret."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_kit.db.models import utcnow
from crm_kit.errors import InvalidArgument, NotFound, PreconditionFailed
from crm_kit.validation import clean_text
from crm_messaging.models import WebhookDelivery, WebhookEndpoint
from crm_messaging.models.webhook import FAILED, PENDING
from crm_messaging.webhooks.addresses import Network, check_destination, check_url
from crm_messaging.webhooks.catalog import checked_patterns
from crm_messaging.webhooks.signing import SecretBox, generate_secret

DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)
DISABLED_BY_USER, FAILING = "disabled_by_user", "failing"
ENDPOINT_DISABLED = "endpoint_disabled"


@dataclass(frozen=True)
class EndpointRules:
    """What endpoint changes need from the settings: the key that seals secrets, and
    the private networks (tests, development) a URL may point to."""

    box: SecretBox | None
    allowed_networks: Sequence[Network] = ()

    def require_box(self) -> SecretBox:
        if self.box is None:
            raise PreconditionFailed(
                "webhooks are not configured on this server (MESSAGING_WEBHOOK_SECRET_KEY)",
                code="webhooks_not_configured",
            )
        return self.box


async def _checked_url(url: str, rules: EndpointRules) -> str:
    await check_destination(check_url(url), rules.allowed_networks)
    return url


def _description(value: str) -> str:
    return clean_text(value, field="description", max_length=500)


async def create(
    session: AsyncSession,
    *,
    rules: EndpointRules,
    url: str,
    description: str,
    event_types: list[str],
    created_by: uuid.UUID | None,
) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its signing secret (returned this once)."""
    box = rules.require_box()
    patterns = checked_patterns(event_types)
    secret = generate_secret()
    endpoint = WebhookEndpoint(
        url=await _checked_url(url, rules),
        description=_description(description),
        event_types=patterns,
        enabled=True,
        disabled_reason="",
        secret_encrypted=box.seal(secret),
        created_by=created_by,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint, secret


async def list_all(session: AsyncSession) -> list[WebhookEndpoint]:
    found = await session.scalars(
        select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return list(found)


async def get(
    session: AsyncSession, *, endpoint_id: uuid.UUID, lock: bool = False
) -> WebhookEndpoint:
    statement = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    found = await session.scalar(statement.with_for_update() if lock else statement)
    if found is None:
        raise NotFound("webhook endpoint not found", code="webhook_endpoint_not_found")
    return found


async def fail_pending(session: AsyncSession, *, endpoint_id: uuid.UUID, reason: str) -> None:
    """A disabled endpoint is owed nothing: its pending deliveries end as failed (each
    can be replayed once it is enabled again)."""
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == PENDING)
        .values(status=FAILED, last_error=reason, updated_at=utcnow())
    )


def disable(endpoint: WebhookEndpoint, *, reason: str, now: datetime) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.disabled_at = now


async def change(
    session: AsyncSession,
    *,
    rules: EndpointRules,
    endpoint_id: uuid.UUID,
    url: str | None = None,
    description: str | None = None,
    event_types: list[str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    endpoint = await get(session, endpoint_id=endpoint_id, lock=True)
    if url is not None:
        endpoint.url = await _checked_url(url, rules)
    if description is not None:
        endpoint.description = _description(description)
    if event_types is not None:
        endpoint.event_types = checked_patterns(event_types)
    if enabled is True and not endpoint.enabled:
        endpoint.enabled = True
        endpoint.disabled_reason = ""
        endpoint.disabled_at = None
        endpoint.failing_since = None
    elif enabled is False and endpoint.enabled:
        disable(endpoint, reason=DISABLED_BY_USER, now=utcnow())
        await fail_pending(session, endpoint_id=endpoint.id, reason=ENDPOINT_DISABLED)
    endpoint.updated_at = utcnow()
    await session.flush()
    return endpoint


async def remove(session: AsyncSession, *, endpoint_id: uuid.UUID) -> None:
    """Deletes the endpoint with its deliveries and their attempts."""
    await session.delete(await get(session, endpoint_id=endpoint_id))
    await session.flush()


async def rotate_secret(
    session: AsyncSession,
    *,
    rules: EndpointRules,
    endpoint_id: uuid.UUID,
    overlap: timedelta | None,
) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned this once); the current one keeps signing beside it for
    `overlap` (default 24 h), so receivers can switch without missing a delivery."""
    box = rules.require_box()
    window = DEFAULT_OVERLAP if overlap is None else overlap
    if window < timedelta(0) or window > MAX_OVERLAP:
        raise InvalidArgument(
            "the overlap must be between 0 and 7 days",
            code="invalid_overlap",
            field="overlap_seconds",
        )
    endpoint = await get(session, endpoint_id=endpoint_id, lock=True)
    secret = generate_secret()
    now = utcnow()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted if window else None
    endpoint.previous_secret_expires_at = now + window if window else None
    endpoint.secret_encrypted = box.seal(secret)
    endpoint.updated_at = now
    await session.flush()
    return endpoint, secret


def signing_secrets(endpoint: WebhookEndpoint, box: SecretBox, *, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one
    while its overlap lasts."""
    secrets_in_use = [box.open(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted is not None and expires is not None and now < expires:
        secrets_in_use.append(box.open(endpoint.previous_secret_encrypted))
    return secrets_in_use
