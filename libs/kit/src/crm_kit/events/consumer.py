"""Durable JetStream pull consumers that apply each event exactly once.

A message is acked only after the handler's transaction has committed, and that
transaction also records the event id in `processed_events`; a redelivered or
re-published event finds its id there and is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError, Message
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm.events.v1 import envelope_pb2
from crm_kit.context import RequestContext, bind_context
from crm_kit.db.session import unit_of_work
from crm_kit.events.bus import STREAM_NAME, subject_for

log = logging.getLogger(__name__)

EventHandler = Callable[[AsyncSession, envelope_pb2.Envelope, Any], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    payload_type: type[Message]
    handler: EventHandler


class EventConsumer:
    def __init__(
        self,
        *,
        durable: str,
        factory: async_sessionmaker[AsyncSession],
        processed_model: type[Any],
        subscriptions: Mapping[str, Subscription],
        batch_size: int = 50,
        max_retry_delay: float = 60.0,
    ) -> None:
        self.durable = durable
        self._factory = factory
        self._processed = processed_model
        self._subscriptions = dict(subscriptions)
        self._batch_size = batch_size
        self._max_retry_delay = max_retry_delay

    async def apply(self, envelope: envelope_pb2.Envelope) -> bool:
        """Apply one event in its own transaction; False when it was already applied."""
        subscription = self._subscriptions.get(envelope.type)
        if subscription is None:
            return False
        tenant = uuid.UUID(envelope.tenant_id) if envelope.tenant_id else None
        ctx = RequestContext(
            request_id=envelope.request_id or envelope.id, tenant_id=tenant, actor_kind="system"
        )
        with bind_context(ctx):
            async with unit_of_work(self._factory, tenant_id=tenant) as session:
                claimed = await session.execute(
                    insert(self._processed)
                    .values(consumer=self.durable, event_id=uuid.UUID(envelope.id))
                    .on_conflict_do_nothing()
                    .returning(self._processed.event_id)
                )
                if claimed.first() is None:
                    return False
                payload = subscription.payload_type()
                envelope.payload.Unpack(payload)
                await subscription.handler(session, envelope, payload)
        return True

    async def _handle(self, msg: Msg) -> None:
        try:
            envelope = envelope_pb2.Envelope.FromString(msg.data)
            uuid.UUID(envelope.id)
            if envelope.tenant_id:
                uuid.UUID(envelope.tenant_id)
        except (DecodeError, ValueError):
            # Retrying cannot fix it; it stays in the stream for whoever investigates.
            log.error("malformed event terminated", extra={"subject": msg.subject})
            await msg.term()
            return
        try:
            applied = await self.apply(envelope)
        except Exception:
            # Never given up on: a database outage or a handler bug must not lose an
            # event, so it comes back with a growing delay until it applies.
            delay = min(2.0 ** min(msg.metadata.num_delivered, 10), self._max_retry_delay)
            log.exception(
                "event handler failed; redelivering", extra={"event_id": envelope.id, "in": delay}
            )
            await msg.nak(delay=delay)
            return
        if not applied:
            log.debug(
                "event skipped (already applied or not handled)", extra={"event_id": envelope.id}
            )
        await msg.ack()

    async def run(self, js: JetStreamContext) -> None:
        """Fetch and apply until cancelled."""
        subscription = await js.pull_subscribe_bind(
            durable=await self._ensure_consumer(js), stream=STREAM_NAME
        )
        while True:
            try:
                messages = await subscription.fetch(self._batch_size, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fetch failed; retrying")
                await asyncio.sleep(1.0)
                continue
            for msg in messages:
                try:
                    await self._handle(msg)
                except NatsError:
                    # The ack or nak did not reach the server: JetStream redelivers
                    # after ack_wait, and the processed-events table absorbs the repeat.
                    log.warning("ack lost; the event will be redelivered and skipped")

    async def _ensure_consumer(self, js: JetStreamContext) -> str:
        subjects = [subject_for(t) for t in self._subscriptions]
        # One subject goes in filter_subject: servers before 2.10 ignore filter_subjects.
        single = subjects[0] if len(subjects) == 1 else None
        await js.add_consumer(
            STREAM_NAME,
            ConsumerConfig(
                durable_name=self.durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                filter_subject=single,
                filter_subjects=None if single else subjects,
                max_deliver=-1,
                ack_wait=30,
            ),
        )
        return self.durable
