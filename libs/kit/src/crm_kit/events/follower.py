"""Following a subject of the stream from a point in time, without a durable consumer.

For state every process keeps in memory (revoked tokens, the gateway's API-key
cache): each process reads the recent history at start, then every new event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from crm.events.v1 import envelope_pb2
from crm_kit.events.bus import STREAM_NAME, subject_for

log = logging.getLogger(__name__)

EnvelopeHandler = Callable[[envelope_pb2.Envelope], None]


async def follow(
    js: JetStreamContext, event_type: str, *, since: timedelta, handle: EnvelopeHandler
) -> None:
    """Call `handle` for every `event_type` event from `since` ago on, until cancelled."""

    async def on_message(msg: Msg) -> None:
        try:
            handle(envelope_pb2.Envelope.FromString(msg.data))
        except Exception:
            log.exception("follower could not apply an event", extra={"subject": msg.subject})

    start = datetime.now(UTC) - since
    subscription = await js.subscribe(
        subject_for(event_type),
        stream=STREAM_NAME,
        cb=on_message,
        ordered_consumer=True,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=start,
        ),
    )
    try:
        await asyncio.Event().wait()
    finally:
        await subscription.unsubscribe()
