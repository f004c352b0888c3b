"""The delivery log is kept for a while (30 days by default), then deleted with its attempts."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_kit.background import repeat
from crm_kit.db.models import utcnow
from crm_kit.db.session import unit_of_work
from crm_messaging.models import WebhookDelivery
from crm_messaging.models.webhook import DISPATCH_GUCS

log = logging.getLogger(__name__)

TENANTS_WITH_EXPIRED_SQL = text(
    "SELECT DISTINCT tenant_id FROM webhook_deliveries WHERE created_at < :cutoff LIMIT 1000"
)


async def purge_expired(factory: async_sessionmaker[AsyncSession], *, keep: timedelta) -> int:
    """Deletes deliveries created more than `keep` ago; returns how many. Tenants are
    found through the dispatcher's read-only policy, each deletion runs bound to its
    tenant."""
    cutoff = utcnow() - keep
    async with unit_of_work(factory, tenant_id=None, gucs=DISPATCH_GUCS) as session:
        tenants = list(await session.scalars(TENANTS_WITH_EXPIRED_SQL, {"cutoff": cutoff}))
    deleted = 0
    for tenant in tenants:
        async with unit_of_work(factory, tenant_id=tenant) as session:
            result = await session.execute(
                delete(WebhookDelivery).where(WebhookDelivery.created_at < cutoff)
            )
            deleted += result.rowcount or 0  # type: ignore[attr-defined]
    return deleted


async def purge_forever(
    factory: async_sessionmaker[AsyncSession], *, keep: timedelta, every_seconds: float = 3600.0
) -> None:
    async def purge_once() -> None:
        deleted = await purge_expired(factory, keep=keep)
        if deleted:
            log.info("expired webhook deliveries deleted", extra={"count": deleted})

    await repeat(purge_once, idle_seconds=every_seconds, what="purging expired webhook deliveries")
