"""Publishes outbox rows to JetStream in order, deleting each one only after its PubAck."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_kit.db.session import unit_of_work
from crm_kit.events.bus import subject_for

log = logging.getLogger(__name__)

PUBLISH_ERRORS = (NatsError, TimeoutError, OSError)


class OutboxRelay:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        model: type[Any],
        *,
        poll_seconds: float = 0.2,
        batch_size: int = 100,
        publish_timeout: float = 2.0,
    ) -> None:
        self._factory = factory
        self._model = model
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._publish_timeout = publish_timeout

    async def publish_pending(self, js: JetStreamContext) -> int:
        """Publish one batch; returns how many rows it published (and deleted).

        The Nats-Msg-Id header is the event id: if a publish is acknowledged but
        the delete is lost (crash, rollback), JetStream drops the second copy.
        """
        model = self._model
        published = 0
        async with unit_of_work(self._factory, tenant_id=None) as session:
            # One relay at a time per database keeps events in commit order across
            # replicas; the others find the lock taken and wait for their next poll.
            locked = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtext(:name))"),
                {"name": f"outbox-relay:{model.__tablename__}"},
            )
            if not locked:
                return 0
            rows = (
                await session.scalars(
                    select(model)
                    .order_by(model.created_at, model.id)
                    .limit(self._batch_size)
                    .with_for_update()
                )
            ).all()
            for row in rows:
                try:
                    await js.publish(
                        subject_for(row.event_type),
                        row.envelope,
                        timeout=self._publish_timeout,
                        headers={"Nats-Msg-Id": str(row.id)},
                    )
                except PUBLISH_ERRORS as exc:
                    log.warning("outbox publish failed; will retry", extra={"error": repr(exc)})
                    break
                await session.delete(row)
                published += 1
        return published

    async def run(self, js: JetStreamContext) -> None:
        """Relay until cancelled: drain while there is work, then poll."""
        while True:
            try:
                if await self.publish_pending(js) == self._batch_size:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay iteration failed")
            await asyncio.sleep(self._poll_seconds)
